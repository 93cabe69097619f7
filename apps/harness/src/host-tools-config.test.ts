import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { loadHostTools } from "./host-tools-config.js";

const canary = "canary-harness-config-91b2";

async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), "reins-host-tools-config-"));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

const file = (secret: string) => `
tools:
  - name: forecast
    description: The forecast.
    input_schema: { type: object, properties: { city: { type: string } } }
    url: "http://127.0.0.1:8080/forecast/{city}"
    allowed_origins: ["http://127.0.0.1:8080"]
    secret: { ${secret}, header: x-api-key }
`;

describe("REINS_HOST_TOOLS_CONFIG", () => {
  it("is optional", () => {
    expect(loadHostTools({})).toEqual([]);
    expect(loadConfig({}).hostTools).toEqual([]);
  });

  it("loads the tools with secrets from the environment or a file", async () => {
    await using t = await tempDir();
    await writeFile(path.join(t.dir, "key"), `${canary}\n`);
    await writeFile(path.join(t.dir, "env.yaml"), file("env: FORECAST_KEY"));
    await writeFile(path.join(t.dir, "file.yaml"), file(`file: ${path.join(t.dir, "key")}`));
    const fromEnv = loadConfig({ REINS_HOST_TOOLS_CONFIG: path.join(t.dir, "env.yaml"), FORECAST_KEY: canary });
    expect(fromEnv.hostTools.map((tool) => tool.name)).toEqual(["forecast"]);
    expect(fromEnv.hostTools[0]?.credential?.value()).toBe(canary);
    const fromFile = loadHostTools({ REINS_HOST_TOOLS_CONFIG: path.join(t.dir, "file.yaml") });
    expect(fromFile[0]?.credential?.value()).toBe(canary);
  });

  it("stops startup on a missing file or secret, saying where it looked", async () => {
    await using t = await tempDir();
    const missing = path.join(t.dir, "none.yaml");
    expect(() => loadConfig({ REINS_HOST_TOOLS_CONFIG: missing })).toThrow(
      `REINS_HOST_TOOLS_CONFIG=${missing} cannot be read`,
    );
    await writeFile(path.join(t.dir, "env.yaml"), file("env: FORECAST_KEY"));
    expect(() => loadHostTools({ REINS_HOST_TOOLS_CONFIG: path.join(t.dir, "env.yaml") })).toThrow(
      "secret.env: FORECAST_KEY is not set or empty",
    );
  });
});
