import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const canary = "canary-mcp-config-3d8e";

async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), "reins-mcp-config-"));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

describe("REINS_MCP_SERVERS_CONFIG", () => {
  it("is optional", () => {
    expect(loadConfig({}).mcpServers).toEqual([]);
  });

  it("loads the servers with their credentials", async () => {
    await using t = await tempDir();
    const file = path.join(t.dir, "mcp.yaml");
    await writeFile(
      file,
      "servers:\n  - { name: docs, url: 'http://127.0.0.1:9/mcp', credential: { env: DOCS_TOKEN } }\n",
    );
    const config = loadConfig({ REINS_MCP_SERVERS_CONFIG: file, DOCS_TOKEN: canary });
    expect(config.mcpServers.map((s) => s.name)).toEqual(["docs"]);
    expect(config.mcpServers[0]?.credential?.value()).toBe(`Bearer ${canary}`);
  });

  it("stops startup on a missing file or credential, saying where it looked", async () => {
    await using t = await tempDir();
    const missing = path.join(t.dir, "none.yaml");
    expect(() => loadConfig({ REINS_MCP_SERVERS_CONFIG: missing })).toThrow(
      `REINS_MCP_SERVERS_CONFIG=${missing} cannot be read`,
    );
    const file = path.join(t.dir, "mcp.yaml");
    await writeFile(
      file,
      "servers:\n  - { name: docs, url: 'http://127.0.0.1:9/mcp', credential: { env: DOCS_TOKEN } }\n",
    );
    expect(() => loadConfig({ REINS_MCP_SERVERS_CONFIG: file })).toThrow(
      `${file} is invalid:\nservers[0] (docs): credential.env: DOCS_TOKEN is not set or empty`,
    );
  });
});
