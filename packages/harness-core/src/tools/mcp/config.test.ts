import { describe, expect, it } from "vitest";
import type { SecretSources } from "../host-tools/index.js";
import { parseMcpServersConfig } from "./config.js";

const canary = "canary-mcp-51c0";
const sources: SecretSources = {
  env: { DOCS_TOKEN: canary, EMPTY: "" },
  readFile: (path) => {
    if (path === "/run/secrets/docs") return `${canary}\n`;
    throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: "ENOENT" });
  },
};

const problems = (text: string) => {
  try {
    parseMcpServersConfig(text, "mcp.yaml", sources);
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
};

describe("MCP servers config", () => {
  it("reads a server with its defaults, the credential bound to the url's origin", () => {
    const [spec] = parseMcpServersConfig(
      "servers:\n  - { name: docs, url: 'http://127.0.0.1:9000/mcp', credential: { env: DOCS_TOKEN } }",
      "mcp.yaml",
      sources,
    );
    expect(spec).toMatchObject({
      name: "docs",
      url: "http://127.0.0.1:9000/mcp",
      origin: "http://127.0.0.1:9000",
      timeoutMs: 30_000,
      maxResultBytes: 65_536,
      listTtlMs: 300_000,
      trustIdempotentHint: false,
      credential: { header: "authorization", origin: "http://127.0.0.1:9000" },
    });
    expect(spec?.tenants).toBeUndefined();
    expect(spec?.credential?.value()).toBe(`Bearer ${canary}`);
    expect(JSON.stringify(spec)).not.toContain(canary);
  });

  it("reads a credential from a file into another header, without a prefix unless one is given", () => {
    const [spec] = parseMcpServersConfig(
      `servers:
  - name: docs
    url: http://127.0.0.1:9000/mcp
    credential: { file: /run/secrets/docs, header: X-Api-Key }
    tenants: [acme]
    timeout_ms: 500
    max_result_bytes: 100
    list_ttl_ms: 0
    trust_idempotent_hint: true`,
      "mcp.yaml",
      sources,
    );
    expect(spec?.credential?.header).toBe("x-api-key");
    expect(spec?.credential?.value()).toBe(canary);
    expect(spec).toMatchObject({ tenants: ["acme"], timeoutMs: 500, maxResultBytes: 100, listTtlMs: 0 });
    expect(spec?.trustIdempotentHint).toBe(true);
  });

  it("reports every problem at once, naming the server, never a secret", () => {
    const message = problems(`servers:
  - { name: docs, url: 'http://127.0.0.1:9000/mcp', credential: { env: MISSING } }
  - { name: docs, url: 'http://127.0.0.1:9001/mcp' }
  - { name: ftp, url: 'ftp://127.0.0.1/mcp' }
  - { name: inline, url: 'http://user:${canary}@127.0.0.1:9000/mcp' }
  - { name: file, url: 'http://127.0.0.1:9000/mcp', credential: { file: /nope } }
  - { name: empty, url: 'http://127.0.0.1:9000/mcp', credential: { env: EMPTY } }`);
    expect(message).toContain("mcp.yaml is invalid:");
    expect(message).toContain("servers[0] (docs): credential.env: MISSING is not set or empty");
    expect(message).toContain("servers[1] (docs): duplicate server name");
    expect(message).toContain("servers[2] (ftp): url must be http or https");
    expect(message).toContain("servers[3] (inline): url must not hold credentials");
    expect(message).toContain("servers[4] (file): credential.file: /nope cannot be read (ENOENT)");
    expect(message).toContain("servers[5] (empty): credential.env: EMPTY is not set or empty");
    expect(message).not.toContain(canary);
  });

  it("refuses names that would make tool names ambiguous, and unknown keys", () => {
    expect(problems("servers:\n  - { name: a__b, url: 'http://127.0.0.1:9000/mcp' }")).toMatch(
      /\/servers\/0\/name must match pattern/,
    );
    expect(problems("servers:\n  - { name: a, url: 'http://127.0.0.1:9000/mcp', tool: x }")).toMatch(
      /must NOT have additional properties/,
    );
    expect(problems("servers:\n  - { name: a, url: 'http://127.0.0.1:9000/mcp', credential: {} }")).toMatch(
      /credential must match exactly one schema in oneOf/,
    );
    expect(problems("servers: [")).toMatch(/^mcp.yaml: not valid YAML/);
  });
});
