import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eventNameOf, HarnessService, RunState, SessionService, TextDeltaSchema } from "@reins/proto";
import { scriptTurns, startDaemon, startFakeAnthropic, startFakeMcpServer, startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";

// The built daemon (apps/harness/dist) against the built session daemon, real
// NATS and the fake Messages API. Sessions here use no tools: see test/ for
// whole-stack runs with the executor.

async function startHarnessStack(
  env: Record<string, string> = {},
  turns: Parameters<typeof scriptTurns>[0] = [{ content: [{ type: "text", text: "Hello from the fake model." }] }],
) {
  const nats = await startNatsServer();
  const fake = await startFakeAnthropic({ script: scriptTurns(turns) });
  const session = await startDaemon({
    app: "session",
    env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
  });
  const harnessEnv = {
    REINS_HARNESS_LISTEN: "127.0.0.1:0",
    REINS_SESSION_URL: session.url,
    REINS_NATS_URL: nats.url,
    ANTHROPIC_API_KEY: "test-key",
    ANTHROPIC_BASE_URL: fake.url,
    // A crashed replica's wake comes back to the queue after this long (default 30 s).
    REINS_WAKE_ACK_WAIT_MS: "1000",
    ...env,
  };
  const harness = await startDaemon({ app: "harness", env: harnessEnv });
  const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: session.url }));
  return {
    nats,
    fake,
    session,
    harness,
    sessions,
    harnessClient: createClient(HarnessService, createGrpcTransport({ baseUrl: harness.url })),
    restartHarness: (extra: Record<string, string> = {}) =>
      startDaemon({ app: "harness", env: { ...harnessEnv, REINS_FAULT_CRASH_AFTER: "", ...extra } }),
    async [Symbol.asyncDispose]() {
      await harness.kill("SIGTERM");
      await session.kill("SIGTERM");
      await fake.close();
      await nats.stop();
    },
  };
}

describe("the harness daemon", () => {
  it("runs a session end to end through RunSession", async () => {
    await using stack = await startHarnessStack();
    const names: string[] = [];
    let text = "";
    for await (const { item } of stack.harnessClient.runSession({ config: { model: "claude-test" }, message: "hi" })) {
      if (item.case === "event") names.push(eventNameOf(item.value));
      if (item.case === "delta") text += item.value.text;
    }
    expect(names).toEqual([
      "session.created",
      "user.message",
      "session.status",
      "agent.message",
      "span.model_request",
      "session.status",
    ]);
    expect(text).toBe("Hello from the fake model.");
    expect(stack.fake.requests[0]?.headers.authorization ?? stack.fake.requests[0]?.headers["x-api-key"]).toContain(
      "test-key",
    );
  });

  it("publishes live text under REINS_STREAM_PREFIX, where `reins watch` of that deployment listens", async () => {
    await using stack = await startHarnessStack({ REINS_STREAM_PREFIX: "ACME" });
    const nc = await connect({ servers: stack.nats.url });
    try {
      const heard: string[] = [];
      nc.subscribe("*.deltas.>", {
        callback: (_, msg) => heard.push(`${msg.subject.split(".")[0]}: ${fromBinary(TextDeltaSchema, msg.data).text}`),
      });
      await nc.flush();
      for await (const _ of stack.harnessClient.runSession({ config: { model: "claude-test" }, message: "hi" })) {
        // The run's own stream; the deltas are checked on NATS.
      }
      await expect
        .poll(() => heard.map((line) => line.replace(/^acme: /, "")).join(""))
        .toBe("Hello from the fake model.");
      expect(heard.every((line) => line.startsWith("acme: "))).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("crashes at the fault-injection point, and a new process resumes the session from the log", async () => {
    await using stack = await startHarnessStack({
      REINS_FAULT_INJECTION: "1",
      REINS_FAULT_CRASH_AFTER: "agent.message:1",
    });
    const { sessionId } = await stack.harnessClient.startSession({ config: { model: "claude-test" }, message: "hi" });
    await stack.harness.exited;
    const before = (await stack.sessions.getEvents({ sessionId })).events;
    expect(before.map(eventNameOf).at(-1)).toBe("span.model_request");
    expect(stack.harness.output.join("\n")).toContain("fault injection: crashing now");

    await using second = await stack.restartHarness();
    const client = createClient(HarnessService, createGrpcTransport({ baseUrl: second.url }));
    const { lastSeq } = await client.wake({ sessionId });
    expect(lastSeq).toBe(before.at(-1)?.seq);
    const leave = new AbortController();
    const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(10_000)]);
    for await (const { event } of stack.sessions.streamEvents({ sessionId, afterSeq: lastSeq }, { signal })) {
      if (event?.payload.case === "sessionStatus" && event.payload.value.state === RunState.IDLE) break;
    }
    leave.abort();
    const after = (await stack.sessions.getEvents({ sessionId })).events;
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map(eventNameOf)).toEqual(["session.status"]);
    expect(stack.fake.requests).toHaveLength(1);
  });

  it("calls an MCP server's tool from REINS_MCP_SERVERS_CONFIG, its credential in no event and no log line", async () => {
    const token = "canary-daemon-mcp-0c7b";
    await using mcp = await startFakeMcpServer({ token });
    const dir = await mkdtemp(path.join(tmpdir(), "reins-daemon-mcp-"));
    try {
      const file = path.join(dir, "mcp.yaml");
      await writeFile(file, `servers:\n  - { name: docs, url: '${mcp.url}', credential: { env: DOCS_MCP_TOKEN } }\n`);
      await using stack = await startHarnessStack({ REINS_MCP_SERVERS_CONFIG: file, DOCS_MCP_TOKEN: token }, [
        {
          content: [
            { type: "tool_use", id: "toolu_1", name: "mcp__docs__echo", input: { text: "through the daemon" } },
            { type: "tool_use", id: "toolu_2", name: "mcp__docs__whoami", input: {} },
          ],
        },
      ]);
      const schema = '{"type":"object"}';
      const events: string[] = [];
      const results: string[] = [];
      for await (const { item } of stack.harnessClient.runSession({
        config: {
          model: "claude-test",
          toolDefinitions: [
            { name: "mcp__docs__echo", description: "Echo.", inputSchemaJson: schema },
            { name: "mcp__docs__whoami", description: "Who.", inputSchemaJson: schema },
          ],
        },
        message: "hi",
      })) {
        if (item.case !== "event") continue;
        events.push(JSON.stringify(item.value, (_, v) => (typeof v === "bigint" ? String(v) : v)));
        if (item.value.payload.case === "agentToolResult") results.push(item.value.payload.value.output);
      }
      expect(results).toEqual(["through the daemon", "you sent: [redacted]"]);
      expect(mcp.calls.map((c) => c.tool)).toEqual(["echo", "whoami"]);
      expect(stack.harness.output.join("\n")).toContain("MCP servers");
      expect(`${events.join("\n")}\n${stack.harness.output.join("\n")}`).not.toContain(token);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start with a fault-injection setting unless fault injection is switched on", async () => {
    const start = startDaemon({
      app: "harness",
      env: { REINS_HARNESS_LISTEN: "127.0.0.1:0", REINS_FAULT_CRASH_AFTER: "agent.message:1" },
      timeoutMs: 10_000,
    });
    await expect(start).rejects.toThrow(
      /invalid configuration: REINS_FAULT_CRASH_AFTER is set but fault injection is off: it needs REINS_FAULT_INJECTION=1/,
    );
    const stall = startDaemon({
      app: "harness",
      env: {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_FAULT_INJECTION: "0",
        REINS_FAULT_STALL_AFTER: "agent.message:1:10",
      },
      timeoutMs: 10_000,
    });
    await expect(stall).rejects.toThrow(/REINS_FAULT_STALL_AFTER is set but fault injection is off/);
  });

  it("shows no credential of REINS_NATS_URL when it cannot reach NATS", async () => {
    const secret = "nats-pw-7e57ab1e";
    const start = startDaemon({
      app: "harness",
      // Nothing listens on port 1: the connection is refused at once.
      env: { REINS_HARNESS_LISTEN: "127.0.0.1:0", REINS_NATS_URL: `nats://reins:${secret}@127.0.0.1:1` },
      timeoutMs: 10_000,
    });
    const err = await start.then(
      async (daemon) => {
        await daemon.kill("SIGTERM");
        return new Error("the harness started");
      },
      (e: unknown) => e as Error,
    );
    expect(err.message).toContain("cannot reach NATS at nats://[redacted]@127.0.0.1:1");
    expect(err.message).not.toContain(secret);
  });

  it("refuses to start on a malformed setting, naming it", async () => {
    const start = startDaemon({
      app: "harness",
      env: {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_FAULT_INJECTION: "1",
        REINS_FAULT_CRASH_AFTER: "agent.mesage:1",
      },
      timeoutMs: 10_000,
    });
    await expect(start).rejects.toThrow(/invalid configuration: REINS_FAULT_CRASH_AFTER=.*agent.mesage:1.* must be/);
  });

  it("refuses a placement mode it does not know, naming the ones it does", async () => {
    const start = startDaemon({
      app: "harness",
      env: { REINS_HARNESS_LISTEN: "127.0.0.1:0", REINS_HARNESS_PLACEMENT: "regsitry" },
      timeoutMs: 10_000,
    });
    await expect(start).rejects.toThrow(
      /invalid configuration: REINS_HARNESS_PLACEMENT=.*regsitry.* must be .*default.* or .*registry/,
    );
  });
});
