import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { repoRoot } from "@reins/launch";
import { EventSchema, RunState, SessionService, StopReason } from "@reins/proto";
import { type Daemon, type NatsServer, startDaemon, startNatsServer } from "@reins/testkit";
import { execa } from "execa";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The built CLI against a real session daemon on a real nats-server.
const cli = `${repoRoot}apps/cli/dist/main.js`;
let nats: NatsServer;
let daemon: Daemon;
let sessionUrl: string;
let client: ReturnType<typeof createClient<typeof SessionService>>;
const sessionId = uuidv7();

type Payload = MessageInitShape<typeof EventSchema>["payload"];
const event = (payload: Payload) => create(EventSchema, { id: uuidv7(), payload });

// One of every event kind a harness writes after session.created.
const transcript: Payload[] = [
  { case: "userMessage", value: { text: "print the first 10 primes" } },
  { case: "sessionStatus", value: { state: RunState.RUNNING } },
  {
    case: "spanModelRequest",
    value: {
      model: "claude-test",
      latency: durationFromMs(800),
      usage: { inputTokens: 100n, outputTokens: 20n },
      attempts: 1,
      costUsd: 0.0005,
    },
  },
  {
    case: "agentMessage",
    value: {
      model: "claude-test",
      stopReason: StopReason.TOOL_USE,
      usage: { inputTokens: 100n, outputTokens: 20n },
      content: [
        { block: { case: "text", value: { text: "Running it." } } },
        {
          block: {
            case: "toolUse",
            value: { id: "toolu_1", name: "bash", inputJson: '{"command":"python3 primes.py"}' },
          },
        },
      ],
    },
  },
  {
    case: "agentToolUseStarted",
    value: { toolUseId: "toolu_1", name: "bash", inputJson: '{"command":"python3 primes.py"}' },
  },
  {
    case: "agentToolResult",
    value: {
      toolUseId: "toolu_1",
      name: "bash",
      output: "2 3 5 7 11 13 17 19 23 29\n",
      exitCode: 0,
      duration: durationFromMs(300),
    },
  },
  { case: "userInterrupt", value: { reason: "just checking" } },
  { case: "sessionError", value: { kind: "model_unavailable", message: "overloaded", retryable: true } },
  { case: "sessionStatus", value: { state: RunState.IDLE, stopReason: StopReason.END_TURN } },
];

function reins(args: string[]) {
  return execa(process.execPath, [cli, "--session-url", sessionUrl, ...args], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REINS_STATE_DIR: "/nonexistent" },
    stdin: "ignore",
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  nats = await startNatsServer();
  daemon = await startDaemon({
    app: "session",
    env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
  });
  sessionUrl = daemon.url;
  client = createClient(SessionService, createGrpcTransport({ baseUrl: sessionUrl }));
  await client.createSession({ sessionId, title: "primes", config: { model: "claude-test", tools: ["bash"] } });
  await client.appendEvents({ sessionId, expectedLastSeq: 1n, events: transcript.map(event) });
});

afterAll(async () => {
  await daemon?.kill("SIGTERM");
  await nats?.stop();
});

describe("reins sessions / events against a real session service", () => {
  it("sessions lists the session with state, stop reason, title, events, tokens and cost", async () => {
    const r = await reins(["sessions"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [header, row] = r.stdout.split("\n");
    expect(header).toMatch(/^ID\s+STATE\s+STOP\s+TITLE\s+EVENTS\s+TOKENS\s+COST\s+CREATED$/);
    expect(row).toMatch(
      new RegExp(`^${sessionId}\\s+idle\\s+end_turn\\s+primes\\s+10\\s+120\\s+\\$0\\.0005\\s+(just now|\\d+s ago)$`),
    );
  });

  it("sessions --json and --state filter", async () => {
    const json = await reins(["sessions", "--json"]);
    expect(json.exitCode).toBe(0);
    const sessions = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(sessions).toEqual([expect.objectContaining({ type: "session", sessionId, title: "primes", lastSeq: "10" })]);
    const running = await reins(["sessions", "--state", "running"]);
    expect(running.exitCode).toBe(0);
    expect(running.stdout).toBe("");
    expect(running.stderr).toContain("no running sessions");
  });

  it("events prints every event in order, one header line each", async () => {
    const r = await reins(["events", sessionId]);
    expect(r.exitCode, r.stderr).toBe(0);
    const headers = r.stdout.split("\n").filter((l) => /^\s+#\d+ /.test(l));
    expect(headers.map((l) => l.split(/\s+/)[3])).toEqual([
      "session.created",
      "user.message",
      "session.status",
      "span.model_request",
      "agent.message",
      "agent.tool_use_started",
      "agent.tool_result",
      "user.interrupt",
      "session.error",
      "session.status",
    ]);
    expect(r.stdout).toContain("2 3 5 7 11 13 17 19 23 29");
    expect(r.stdout).toContain("→ bash python3 primes.py");
  });

  it("events --after and --type select a slice, --json gives NDJSON", async () => {
    const after = await reins(["events", sessionId, "--after", "7", "--json"]);
    expect(after.exitCode).toBe(0);
    const seqs = after.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { seq: string }).seq);
    expect(seqs).toEqual(["8", "9", "10"]);
    const results = await reins(["events", sessionId, "--type", "agent.tool_result,user.interrupt", "--json"]);
    const types = results.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types).toEqual(["agent.tool_result", "user.interrupt"]);
  });

  it("events --follow replays, then shows new events live, and Ctrl-C ends it with 130", async () => {
    const child = execa(
      process.execPath,
      [cli, "--session-url", sessionUrl, "events", sessionId, "--follow", "--after", "8", "--json"],
      {
        reject: false,
        extendEnv: false,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        stdin: "ignore",
        buffer: false,
      },
    );
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async () =>
        JSON.parse(((await lines.next()).value as string) ?? "null") as { seq: string; type: string };
      expect((await next()).seq).toBe("9");
      expect((await next()).seq).toBe("10");
      await client.appendEvents({
        sessionId,
        expectedLastSeq: 10n,
        events: [event({ case: "userMessage", value: { text: "and the next 10?" } })],
      });
      expect(await next()).toMatchObject({ seq: "11", type: "user.message" });
      child.kill("SIGINT");
      const done = await child;
      expect(done.exitCode).toBe(130);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("an unknown session is NOT_FOUND in one line, exit 1", async () => {
    const r = await reins(["events", "no-such-session"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: NOT_FOUND: .*no-such-session/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
