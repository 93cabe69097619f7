import { startFakeMcpServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { ToolAbortedError } from "../../errors.js";
import type { ToolCall } from "../executor-pool.js";
import { parseMcpServersConfig } from "./config.js";
import { createMcpTools } from "./mcp-tools.js";

// The real SDK client against an MCP server built with the SDK's own server
// classes, over real HTTP on 127.0.0.1, with a bearer check.
const token = "canary-mcp-token-6a2f";

function mcpTools(url: string, extra = "", env: Record<string, string> = { DOCS_TOKEN: token }) {
  const specs = parseMcpServersConfig(
    `servers:\n  - { name: docs, url: '${url}', credential: { env: DOCS_TOKEN }${extra} }`,
    "mcp.yaml",
    { env, readFile: () => "" },
  );
  const tools = createMcpTools(specs);
  return Object.assign(tools, { [Symbol.asyncDispose]: () => tools.close() });
}

const call = (name: string, input: unknown = {}, tenant = ""): ToolCall => ({
  sessionId: "s",
  toolUseId: "toolu_1",
  name,
  inputJson: JSON.stringify(input),
  tenant,
});

describe("MCP tools", () => {
  it("lists a server's tools namespaced, reusing the listing within its TTL", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url);
    const { tools: listed, unavailable } = await tools.catalog("");
    expect(unavailable.size).toBe(0);
    expect(listed.map((t) => t.name).sort()).toEqual(
      ["die", "echo", "fail", "hang", "huge", "whoami"].map((n) => `mcp__docs__${n}`),
    );
    const echo = listed.find((t) => t.name === "mcp__docs__echo");
    expect(JSON.parse(echo?.inputSchemaJson ?? "{}")).toMatchObject({ properties: { text: { type: "string" } } });
    // The server's idempotentHint counts only where the operator trusts it.
    expect(echo?.idempotent).toBe(false);
    const requests = server.authorizations.length;
    await tools.catalog("");
    expect(server.authorizations.length).toBe(requests);
    await tools.catalog("", { fresh: true });
    expect(server.authorizations.length).toBeGreaterThan(requests);
    expect(server.authorizations.every((a) => a === `Bearer ${token}`)).toBe(true);
  });

  it("honours idempotentHint when the operator trusts the server's hints", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, ", trust_idempotent_hint: true");
    const { tools: listed } = await tools.catalog("");
    expect(listed.filter((t) => t.idempotent).map((t) => t.name)).toEqual(["mcp__docs__echo"]);
  });

  it("calls a tool and returns its text; a tool error is an error result", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url);
    expect(tools.routes("mcp__docs__echo", "")).toBe(true);
    expect(tools.routes("mcp__other__echo", "")).toBe(false);
    const echoed = await tools.execute(call("mcp__docs__echo", { text: "hello" }));
    expect(echoed).toMatchObject({ output: "hello", isError: false, truncated: false });
    expect(server.calls).toEqual([{ tool: "echo", args: { text: "hello" } }]);
    const failed = await tools.execute(call("mcp__docs__fail"));
    expect(failed).toMatchObject({ output: "the tool failed on purpose", isError: true });
    const bad = await tools.execute(call("mcp__docs__echo", { text: 5 }));
    expect(bad.isError).toBe(true);
    expect(bad.output).toMatch(/text/);
  });

  it("never shows the credential, even when the server echoes it", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url);
    const outcome = await tools.execute(call("mcp__docs__whoami"));
    expect(outcome.output).toBe("you sent: [redacted]");
    expect(server.authorizations.at(-1)).toBe(`Bearer ${token}`);
  });

  it("says so when the server refuses the credential, and that the tool did not run", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, "", { DOCS_TOKEN: "wrong-token" });
    const listing = await tools.catalog("");
    expect(listing.tools).toEqual([]);
    expect(listing.unavailable.get("docs")).toMatch(/401/);
    const outcome = await tools.execute(call("mcp__docs__echo", { text: "x" }));
    expect(outcome.isError).toBe(true);
    expect(outcome.output).toMatch(
      /^error: MCP server docs \(http:\/\/127\.0\.0\.1:\d+\) refused the harness's credential \(HTTP 401\), so mcp__docs__echo did not run$/,
    );
    expect(server.refused).toBeGreaterThan(0);
    expect(server.calls).toEqual([]);
  });

  it("says the server is unavailable when nothing listens", async () => {
    const server = await startFakeMcpServer({ token });
    const url = server.url;
    await server.close();
    await using tools = mcpTools(url);
    const outcome = await tools.execute(call("mcp__docs__echo", { text: "x" }));
    expect(outcome.isError).toBe(true);
    expect(outcome.output).toMatch(
      /^error: MCP server docs \(.*\) is unavailable, so mcp__docs__echo did not run: .*ECONNREFUSED/,
    );
  });

  it("answers a call cut by the server's death at once, outcome unknown", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, ", timeout_ms: 60000");
    await tools.execute(call("mcp__docs__echo", { text: "warm" }));
    const outcome = await tools.execute(call("mcp__docs__die"));
    expect(outcome.isError).toBe(true);
    expect(outcome.output).toMatch(
      /^error: the connection to MCP server docs .* broke during mcp__docs__die; its outcome is unknown: /,
    );
  });

  it("times out a call that hangs, outcome unknown", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, ", timeout_ms: 300");
    const outcome = await tools.execute(call("mcp__docs__hang"));
    expect(outcome).toMatchObject({ isError: true });
    expect(outcome.output).toBe(
      `error: mcp__docs__hang timed out after 300 ms at MCP server docs (${new URL(server.url).origin}); its outcome is unknown`,
    );
    // The connection stays usable.
    expect((await tools.execute(call("mcp__docs__echo", { text: "after" }))).output).toBe("after");
  });

  it("throws ToolAbortedError when the caller cancels", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url);
    const stop = new AbortController();
    const pending = tools.execute(call("mcp__docs__hang"), stop.signal);
    await server.hanging();
    stop.abort();
    await expect(pending).rejects.toBeInstanceOf(ToolAbortedError);
  });

  it("caps a huge result with a visible marker", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, ", max_result_bytes: 1000");
    const outcome = await tools.execute(call("mcp__docs__huge", { bytes: 5_000_000 }));
    expect(outcome.truncated).toBe(true);
    expect(outcome.isError).toBe(false);
    expect(outcome.output).toBe(`${"x".repeat(1000)}\n[result truncated at 1000 bytes]`);
  });

  it("confines a server to its tenants: not listed, not routed, not called for another", async () => {
    await using server = await startFakeMcpServer({ token });
    await using tools = mcpTools(server.url, ", tenants: [acme]");
    expect((await tools.catalog("globex")).tools).toEqual([]);
    expect((await tools.catalog("acme")).tools.length).toBe(6);
    expect(tools.routes("mcp__docs__echo", "globex")).toBe(false);
    await expect(tools.execute(call("mcp__docs__echo", { text: "x" }, "globex"))).rejects.toThrow(
      '"mcp__docs__echo" is not an MCP tool',
    );
    expect(server.calls).toEqual([]);
  });
});
