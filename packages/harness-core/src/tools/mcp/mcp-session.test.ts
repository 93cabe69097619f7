import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventSchema, eventNameOf, ToolKind } from "@reins/proto";
import { type FakeTurn, lastToolResults, scriptTurns, startFakeMcpServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startLoopEnv } from "../../testing/loop-env.js";
import { parseMcpServersConfig } from "./config.js";
import { createMcpTools } from "./mcp-tools.js";
import { withMcpTools } from "./router.js";

// A real session: the real SDK against the fake Messages API scripting
// tool_use of mcp__docs__*, the harness calling the SDK-built MCP server.
const token = "canary-mcp-session-e41d";

async function start(turns: FakeTurn[], serverExtra = "") {
  const server = await startFakeMcpServer({ token });
  const specs = parseMcpServersConfig(
    `servers:\n  - { name: docs, url: '${server.url}', credential: { env: DOCS_TOKEN }${serverExtra} }`,
    "mcp.yaml",
    { env: { DOCS_TOKEN: token }, readFile: () => "" },
  );
  const mcp = createMcpTools(specs);
  const env = await startLoopEnv(scriptTurns(turns), { wrapExecutors: (pool) => withMcpTools(pool, mcp) });
  return {
    env,
    server,
    async [Symbol.asyncDispose]() {
      await env[Symbol.asyncDispose]();
      await mcp.close();
      await server.close();
    },
  };
}

const toolUse = (id: string, name: string, input: Record<string, unknown>): FakeTurn => ({
  content: [{ type: "tool_use", id, name, input }],
});
const results = (events: readonly Event[]) =>
  events.flatMap((e) =>
    e.payload.case === "agentToolResult" ? [[e.payload.value.output, e.payload.value.isError]] : [],
  );

describe("MCP tools in a session", () => {
  it("offers them by name, freezes their definitions, and calls them under write-ahead", async () => {
    await using t = await start([
      {
        content: [
          { type: "tool_use", id: "toolu_1", name: "mcp__docs__echo", input: { text: "from the model" } },
          { type: "tool_use", id: "toolu_2", name: "mcp__docs__whoami", input: {} },
        ],
      },
    ]);
    const { sessionId } = await t.env.harness.startSession({
      config: { model: "claude-test", tools: ["mcp__docs__echo", "mcp__docs__whoami"] },
      message: "go",
    });
    const events = await t.env.settled(sessionId);
    const created = events[0]?.payload.case === "sessionCreated" ? events[0].payload.value : undefined;
    expect(created?.config?.toolDefinitions.map((d) => d.name)).toEqual(["mcp__docs__echo", "mcp__docs__whoami"]);
    expect(JSON.parse(created?.config?.toolDefinitions[0]?.inputSchemaJson ?? "{}")).toMatchObject({
      properties: { text: { type: "string" } },
    });
    const offered = ((t.env.fake.requests[0]?.body?.tools ?? []) as Array<{ name: string }>).map((tool) => tool.name);
    expect(offered).toEqual(["mcp__docs__echo", "mcp__docs__whoami"]);
    expect(names(events)).toContain("agent.tool_use_started");
    expect(results(events)).toEqual([
      ["from the model", false],
      ["you sent: [redacted]", false],
    ]);
    expect(lastToolResults(t.env.fake.requests[1]?.body).map((r) => r.content)).toEqual([
      "from the model",
      "you sent: [redacted]",
    ]);
    expect(t.server.calls.map((c) => c.tool)).toEqual(["echo", "whoami"]);
    // The credential went to the server, and nowhere else: not in the log, not to the model.
    expect(t.server.authorizations.at(-1)).toBe(`Bearer ${token}`);
    expect(events.map((e) => toJsonString(EventSchema, e)).join("\n")).not.toContain(token);
    expect(JSON.stringify(t.env.fake.requests.map((r) => r.body))).not.toContain(token);
  });

  it("writes the intent before the call reaches the server; a call cut by a crash is outcome unknown", async () => {
    await using t = await start([toolUse("toolu_1", "mcp__docs__hang", {})]);
    const { sessionId } = await t.env.harness.startSession({
      config: { model: "claude-test", tools: ["mcp__docs__hang"] },
      message: "go",
    });
    await t.server.hanging();
    expect(names(await t.env.events(sessionId)).at(-1)).toBe("agent.tool_use_started");
    await t.env.runner.stop(sessionId);
    await t.env.newRunner().runSession(sessionId);
    const events = await t.env.events(sessionId);
    expect(results(events)).toEqual([[expect.stringMatching(/outcome unknown/), true]]);
    expect(t.server.calls.map((c) => c.tool)).toEqual(["hang"]);
  });

  it("refuses at StartSession a tool of a server this tenant may not use, word for word like an unknown one", async () => {
    await using t = await start([], ", tenants: [acme]");
    const refusal = async (tools: string[]) =>
      t.env.harness.startSession({ config: { model: "claude-test", tools }, message: "go" }).then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
    const theirs = await refusal(["mcp__docs__echo"]);
    const nobodys = await refusal(["mcp__nobody__echo"]);
    expect(theirs?.code).toBe(Code.InvalidArgument);
    expect(theirs?.rawMessage.replace("mcp__docs__echo", "X")).toBe(
      nobodys?.rawMessage.replace("mcp__nobody__echo", "X"),
    );
    expect(t.server.calls).toEqual([]);
  });

  it("never sends another tenant's session's call to the server, even from declared definitions", async () => {
    await using t = await start([toolUse("toolu_1", "mcp__docs__echo", { text: "x" })], ", tenants: [acme]");
    const { sessionId } = await t.env.harness.startSession({
      config: {
        model: "claude-test",
        toolDefinitions: [{ name: "mcp__docs__echo", description: "declared", inputSchemaJson: '{"type":"object"}' }],
      },
      message: "go",
    });
    await t.env.settled(sessionId);
    expect(t.server.calls).toEqual([]);
    expect(t.env.executor.calls.map((c) => c.name)).toEqual(["mcp__docs__echo"]);
  });

  it("lists MCP tools with the executor's in ListToolCatalog, saying where each runs and which servers are down", async () => {
    await using t = await start([]);
    const { tools, unavailable } = await t.env.harness.listToolCatalog({});
    const kinds = new Map(tools.map((l) => [l.tool?.name, l.kind]));
    expect(kinds.get("mcp__docs__echo")).toBe(ToolKind.MCP);
    expect(kinds.get("bash")).toBe(ToolKind.EXECUTOR);
    expect(unavailable).toEqual([]);
    await t.server.close();
    const down = await t.env.harness.listToolCatalog({ fresh: true });
    // The last listing stands in for a server that went away after it was listed.
    expect(down.tools.some((l) => l.tool?.name === "mcp__docs__echo")).toBe(true);
  });

  it("names a server never listed in ListToolCatalog's unavailable, without its tools", async () => {
    await using t = await start([]);
    await t.server.close();
    const { tools, unavailable } = await t.env.harness.listToolCatalog({});
    expect(tools.some((l) => l.kind === ToolKind.MCP)).toBe(false);
    expect(unavailable.map((u) => u.name)).toEqual(["docs"]);
    expect(unavailable[0]?.reason).toMatch(/ECONNREFUSED/);
  });

  it("fails StartSession with UNAVAILABLE, naming the server, when it cannot be listed", async () => {
    await using t = await start([]);
    await t.server.close();
    const err = await t.env.harness
      .startSession({ config: { model: "claude-test", tools: ["mcp__docs__echo"] }, message: "go" })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toMatch(
      /^cannot read the tool catalog: tool "mcp__docs__echo": MCP server docs cannot be listed: .*ECONNREFUSED/,
    );
  });
});

function names(events: readonly Event[]): string[] {
  return events.map(eventNameOf);
}
