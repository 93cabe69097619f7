import { type AddressInfo, createServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  AgentConfigSchema,
  type Event,
  EventSchema,
  eventNameOf,
  RunState,
  StopReason,
  ToolDefinitionSchema,
} from "@reins/proto";
import { type FakeTurn, lastToolResults, scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { OwnershipLostError } from "../errors.js";
import type { SessionClient } from "../log/index.js";
import { createAnthropicAdapter, outcomeUnknown } from "../model/index.js";
import { logProblems, names, toolPairingProblems, transcript } from "../testing/assertions.js";
import { type LoopEnv, startLoopEnv } from "../testing/loop-env.js";
import { createExecutorPool } from "../tools/index.js";
import { createSessionRunner } from "../wake/index.js";
import { createReschedulePolicy } from "./reschedule.js";

const config = (limits: MessageInitShape<typeof AgentConfigSchema>["limits"] = undefined) =>
  create(AgentConfigSchema, { model: "claude-test", systemPrompt: "Be brief.", tools: ["bash", "read"], limits });

const parallel: FakeTurn = {
  content: [
    { type: "text", text: "Running both at once." },
    { type: "tool_use", name: "bash", input: { command: "echo one" } },
    { type: "tool_use", name: "bash", input: { command: "echo two" } },
  ],
};
const threeTurns = scriptTurns([
  parallel,
  (request) => ({
    content: [
      {
        type: "text",
        text: `Got ${lastToolResults(request.body)
          .map((r) => r.content)
          .join(" and ")}.`,
      },
      { type: "tool_use", name: "read", input: { command: "cat notes" } },
    ],
  }),
  { content: [{ type: "text", text: "All done." }] },
]);

// "echo one" finishes last, so the log holds the results out of tool_use order.
const slowFirst = (delayMs: number) => async (req: { inputJson: string }, signal: AbortSignal) => {
  const { command } = JSON.parse(req.inputJson) as { command: string };
  if (command === "echo one") await sleep(delayMs, undefined, { signal });
  return { output: `ran ${command}` };
};

/** Resolves once the session's log has a status of that state. */
async function untilStatus(env: LoopEnv, sessionId: string, state: RunState): Promise<void> {
  const leave = new AbortController();
  try {
    for await (const { event } of env.sessions.streamEvents({ sessionId }, { signal: leave.signal })) {
      if (event?.payload.case === "sessionStatus" && event.payload.value.state === state) return;
    }
  } finally {
    leave.abort();
  }
}

function statusOf(events: readonly Event[]) {
  const last = events.at(-1);
  return last?.payload.case === "sessionStatus" ? [last.payload.value.state, last.payload.value.stopReason] : [];
}

describe("the agent loop", () => {
  it("runs a multi-turn session with parallel tool calls, results in tool_use order", async () => {
    await using env = await startLoopEnv(threeTurns);
    env.executor.setHandler(slowFirst(30));
    const texts: string[] = [];
    await env.deltas.subscribe("multi", (d) => texts.push(d.text));
    await env.harness.startSession({ sessionId: "multi", config: config(), message: "go" });
    const events = await env.settled("multi");

    expect(names(events)).toEqual([
      "session.created",
      "user.message",
      "session.status",
      "agent.message",
      "span.model_request",
      "agent.tool_use_started",
      "agent.tool_use_started",
      "agent.tool_result",
      "agent.tool_result",
      "agent.message",
      "span.model_request",
      "agent.tool_use_started",
      "agent.tool_result",
      "agent.message",
      "span.model_request",
      "session.status",
    ]);
    expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    expect(env.executor.maxConcurrent).toBe(2);
    // The log has "two" before "one"; the model got them in tool_use order.
    const results = events.filter((e) => e.payload.case === "agentToolResult");
    expect(results.map((e) => (e.payload.value as { output: string }).output)).toEqual([
      "ran echo two",
      "ran echo one",
      "ran cat notes",
    ]);
    const requests = env.fake.answered();
    expect(requests).toHaveLength(3);
    expect(toolPairingProblems(requests)).toEqual([]);
    expect(lastToolResults(requests[1]?.body).map((r) => r.content)).toEqual(["ran echo one", "ran echo two"]);
    expect(env.fake.requests.every((r) => r.status === 200)).toBe(true);
    expect(texts.join("")).toContain("Running both at once.");

    const { session } = await env.sessions.getSession({ sessionId: "multi" });
    expect(session?.modelRequests).toBe(3);
    expect(session?.costUsd).toBeGreaterThan(0);
    expect(session?.usage?.outputTokens).toBeGreaterThan(0n);
    expect(session?.state).toBe(RunState.IDLE);
  });

  describe("resuming after a crash", () => {
    // A crash here is the run stopped right after the n-th append of `name` is
    // acknowledged: it writes nothing more, as a killed process would.
    async function crashThenResume(name: string, n: number, slowMs = 30) {
      let seen = 0;
      let crash = () => {};
      const crashed = new Promise<void>((resolve) => {
        crash = resolve;
      });
      await using env = await startLoopEnv(threeTurns, {
        onAppended: (_id, written) => {
          if (written.some((e) => eventNameOf(e) === name) && ++seen === n) {
            void env.runner.stop("crashy");
            crash();
          }
        },
      });
      env.executor.setHandler(slowFirst(slowMs));
      await env.harness.startSession({ sessionId: "crashy", config: config(), message: "go" });
      await crashed;
      await env.runner.stop("crashy");
      const before = await env.events("crashy");
      const outcome = await env.newRunner().runSession("crashy");
      const after = await env.events("crashy");
      return { env, before, after, outcome, calls: env.executor.calls.map((c) => JSON.parse(c.inputJson).command) };
    }

    // The model's answer and the intents of its calls are one append, so a
    // crash "after agent.message" is also one "after agent.tool_use_started".
    for (const point of ["agent.message", "agent.tool_use_started"]) {
      it(`after ${point}: reports the calls 'interrupted; outcome unknown' and runs nothing twice`, async () => {
        const { before, after, outcome, calls, env } = await crashThenResume(point, 1);
        expect(names(before).slice(-4)).toEqual([
          "agent.message",
          "span.model_request",
          "agent.tool_use_started",
          "agent.tool_use_started",
        ]);
        expect(outcome).toEqual({ kind: "idle", stopReason: StopReason.END_TURN });
        expect(calls).toEqual(["cat notes"]);
        expect(lastToolResults(env.fake.answered()[1]?.body)).toEqual([
          expect.objectContaining({ content: outcomeUnknown, isError: true }),
          expect.objectContaining({ content: outcomeUnknown, isError: true }),
        ]);
        expect(logProblems(after)).toEqual([]);
        expect(toolPairingProblems(env.fake.requests)).toEqual([]);
      });
    }

    it("runs the calls of an answer whose intents were never written, then finishes", async () => {
      await using env = await startLoopEnv(threeTurns);
      await env.sessions.createSession({ sessionId: "no-intent", config: config(), eventId: "c1" });
      const agent = create(EventSchema, {
        id: "a1",
        payload: {
          case: "agentMessage",
          value: {
            model: "claude-test",
            stopReason: StopReason.TOOL_USE,
            content: ["one", "two"].map((w) => ({
              block: {
                case: "toolUse" as const,
                value: { id: `t_${w}`, name: "bash", inputJson: `{"command":"echo ${w}"}` },
              },
            })),
          },
        },
      });
      const user = create(EventSchema, { id: "u1", payload: { case: "userMessage", value: { text: "go" } } });
      await env.sessions.appendEvents({ sessionId: "no-intent", expectedLastSeq: 1n, events: [user, agent] });
      const outcome = await env.runner.runSession("no-intent");
      const events = await env.events("no-intent");
      expect(outcome).toEqual({ kind: "idle", stopReason: StopReason.END_TURN });
      expect(names(events).slice(3, 7)).toEqual([
        "session.status",
        "agent.tool_use_started",
        "agent.tool_use_started",
        "agent.tool_result",
      ]);
      expect(env.executor.calls.map((c) => JSON.parse(c.inputJson).command).sort()).toEqual([
        "cat notes",
        "echo one",
        "echo two",
      ]);
      expect(logProblems(events)).toEqual([]);
    });

    it("after agent.tool_result: keeps the result written, and the cut-off call is an unknown outcome", async () => {
      // "echo one" outlasts the result batching window, so "two" is written alone first.
      const { after, outcome, calls, env } = await crashThenResume("agent.tool_result", 1, 500);
      expect(outcome.kind).toBe("idle");
      expect(calls.filter((c) => c.startsWith("echo")).sort()).toEqual(["echo one", "echo two"]);
      expect(env.executor.cancelled.map((c) => JSON.parse(c.inputJson).command)).toEqual(["echo one"]);
      expect(lastToolResults(env.fake.answered()[1]?.body).map((r) => r.content)).toEqual([
        outcomeUnknown,
        "ran echo two",
      ]);
      expect(logProblems(after)).toEqual([]);
    });

    it("re-runs a started call of an idempotent tool instead of reporting it unknown", async () => {
      const { after, outcome, calls } = await crashThenResume("agent.tool_use_started", 2);
      expect(outcome.kind).toBe("idle");
      expect(calls.filter((c) => c === "cat notes")).toHaveLength(1);
      const read = after.filter((e) => e.payload.case === "agentToolResult").at(-1);
      expect(read?.payload.value).toMatchObject({ name: "read", output: "ran cat notes", isError: false });
    });

    it("writes only the missing idle status when the crash came after the last turn", async () => {
      const { before, after, outcome } = await crashThenResume("span.model_request", 3);
      expect(outcome).toEqual({ kind: "idle", stopReason: StopReason.END_TURN });
      expect(after.slice(0, before.length)).toEqual(before);
      expect(names(after.slice(before.length))).toEqual(["session.status"]);
    });
  });

  it("never sends a tool the session was not offered to an executor", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", name: "python", input: { code: "print(1)" } }] },
        (r) => ({ content: [{ type: "text", text: `saw ${lastToolResults(r.body)[0]?.content}` }] }),
      ]),
    );
    await env.harness.startSession({ sessionId: "unoffered", config: config(), message: "go" });
    const events = await env.settled("unoffered");
    expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(env.executor.calls).toHaveLength(0);
    const [result] = lastToolResults(env.fake.answered()[1]?.body);
    expect(result?.isError).toBe(true);
    expect(result?.content).toBe('tool "python" is not available in this session (available tools: bash, read)');
  });

  it("turns an executor that is down into error results, and the session finishes", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        parallel,
        (r) => ({ content: [{ type: "text", text: `saw ${lastToolResults(r.body)[0]?.isError}` }] }),
      ]),
    );
    await env.executor.close();
    // Tool definitions come with the request, so starting needs no catalog.
    await env.harness.startSession({
      sessionId: "down",
      config: {
        ...config(),
        tools: [],
        toolDefinitions: [create(ToolDefinitionSchema, { name: "bash", inputSchemaJson: "{}" })],
      },
      message: "go",
    });
    const events = await env.settled("down");
    expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const results = lastToolResults(env.fake.answered()[1]?.body);
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.isError).toBe(true);
      expect(r.content).toMatch(/executor at .* is unavailable/);
    }
    expect(transcript("down", events).at(-1)?.content).toEqual([{ type: "text", text: "saw true" }]);
  });

  describe("limits", () => {
    const forever = scriptTurns([], { content: [{ type: "tool_use", name: "bash", input: { command: "loop" } }] });

    it("terminates at max_turns", async () => {
      await using env = await startLoopEnv(forever);
      await env.harness.startSession({ sessionId: "turns", config: config({ maxTurns: 2 }), message: "go" });
      const events = await env.settled("turns");
      expect(statusOf(events)).toEqual([RunState.TERMINATED, StopReason.MAX_TURNS]);
      expect(names(events).filter((n) => n === "agent.message")).toHaveLength(2);
      const wake = await env.newRunner().runSession("turns");
      expect(wake).toEqual({ kind: "terminated", stopReason: StopReason.MAX_TURNS });
    });

    it("terminates when the token budget is spent", async () => {
      await using env = await startLoopEnv(forever);
      await env.harness.startSession({ sessionId: "tokens", config: config({ maxTotalTokens: 5n }), message: "go" });
      const events = await env.settled("tokens");
      expect(statusOf(events)).toEqual([RunState.TERMINATED, StopReason.BUDGET_REACHED]);
      expect(names(events).filter((n) => n === "agent.message")).toHaveLength(1);
    });

    it("terminates at the wall-time limit, cancelling the call in flight", async () => {
      await using env = await startLoopEnv(forever);
      let cancelled = () => {};
      const wasCancelled = new Promise<void>((resolve) => {
        cancelled = resolve;
      });
      env.executor.setHandler(
        (_req, signal) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => {
              cancelled();
              reject(new Error("cancelled"));
            }),
          ),
      );
      const limits = { maxWallTime: durationFromMs(400) };
      await env.harness.startSession({ sessionId: "wall", config: config(limits), message: "go" });
      const events = await env.settled("wall");
      expect(statusOf(events)).toEqual([RunState.TERMINATED, StopReason.BUDGET_REACHED]);
      const result = events.find((e) => e.payload.case === "agentToolResult");
      expect(result?.payload.value).toMatchObject({ isError: true, output: expect.stringContaining(outcomeUnknown) });
      await wasCancelled;
    });
  });

  it("ends at the wall-time limit while the tool catalog is still being read", async () => {
    await using env = await startLoopEnv(scriptTurns([]));
    // An executor address that accepts connections and never answers.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const runner = createSessionRunner({
        sessions: env.sessions,
        model: createAnthropicAdapter({ apiKey: "k", baseURL: env.fake.url }),
        executors: createExecutorPool({ defaultAddress: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` }),
      });
      // Created straight on the session service: tools by name only, so the run looks them up.
      await env.sessions.createSession({
        sessionId: "slow-catalog",
        config: config({ maxWallTime: durationFromMs(300) }),
        eventId: "c1",
      });
      const user = create(EventSchema, { id: "u1", payload: { case: "userMessage", value: { text: "go" } } });
      await env.sessions.appendEvents({ sessionId: "slow-catalog", expectedLastSeq: 1n, events: [user] });
      expect(await runner.runSession("slow-catalog")).toEqual({
        kind: "terminated",
        stopReason: StopReason.BUDGET_REACHED,
      });
      expect(statusOf(await env.events("slow-catalog"))).toEqual([RunState.TERMINATED, StopReason.BUDGET_REACHED]);
      expect(env.fake.answered()).toHaveLength(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  describe("when the model fails", () => {
    const statuses = (events: readonly Event[]) =>
      events.flatMap((e) => (e.payload.case === "sessionStatus" ? [e.payload.value] : []));

    it("reschedules a turn the model was unavailable for, and the turn goes on when it is back", async () => {
      await using env = await startLoopEnv(scriptTurns([{ content: [{ type: "text", text: "back" }] }]));
      // The adapter's four attempts, all overloaded: the turn is rescheduled once, then answered.
      env.fake.failNext({ fault: "overloaded" }, 4);
      await env.harness.startSession({ sessionId: "flaky", config: config(), message: "go" });
      const events = await env.settled("flaky");
      expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      const error = events.find((e) => e.payload.case === "sessionError");
      expect(error?.payload.value).toMatchObject({ kind: "overloaded", retryable: true });
      const span = events.find((e) => e.payload.case === "spanModelRequest");
      expect(span?.payload.value).toMatchObject({ attempts: 4 });
      expect(statuses(events).map((s) => [s.state, s.retryAttempt])).toEqual([
        [RunState.RUNNING, 0],
        [RunState.RESCHEDULING, 1],
        [RunState.RUNNING, 0],
        [RunState.IDLE, 0],
      ]);
      expect(statuses(events)[1]?.detail).toMatch(/^retrying at .* \(attempt 1 of 3\): model API 529/);
      expect(transcript("flaky", events).at(-1)?.content).toEqual([{ type: "text", text: "back" }]);
      expect(env.fake.requests).toHaveLength(5);
    });

    it("gives up after the policy's attempts with retries_exhausted, and asks nothing more until a Wake", async () => {
      await using env = await startLoopEnv(() => ({ fault: "overloaded" }));
      await env.harness.startSession({ sessionId: "down", config: config(), message: "go" });
      const events = await env.settled("down");
      expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.RETRIES_EXHAUSTED]);
      const rescheduled = statuses(events).filter((s) => s.state === RunState.RESCHEDULING);
      expect(rescheduled.map((s) => s.retryAttempt)).toEqual([1, 2, 3]);
      const due = rescheduled.map((s) => (s.retryTime ? timestampMs(s.retryTime) : 0));
      expect(due).toEqual([...due].sort((a, b) => a - b));
      expect(new Set(due).size).toBe(3);
      // The first series and three rescheduled ones, of the adapter's four attempts each.
      expect(env.fake.requests).toHaveLength(16);
      expect(events.filter((e) => e.payload.case === "sessionError")).toHaveLength(4);
      // A wake of its own (a redelivery, a re-check) finds nothing to do.
      expect(await env.runner.runSession("down")).toEqual({ kind: "idle", stopReason: StopReason.RETRIES_EXHAUSTED });
      expect(await env.events("down")).toEqual(events);
      expect(env.fake.requests).toHaveLength(16);
      // A client's Wake starts a new series.
      env.fake.setScript(scriptTurns([{ content: [{ type: "text", text: "up again" }] }]));
      const { lastSeq } = await env.harness.wake({ sessionId: "down" });
      const after = await env.settled("down", lastSeq);
      expect(statusOf(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(env.fake.requests).toHaveLength(17);
    });

    it("ends idle on a request the model refuses (401): one request, and none until new input", async () => {
      await using env = await startLoopEnv(() => ({ fault: "status", status: 401 }));
      await env.harness.startSession({ sessionId: "refused", config: config(), message: "go" });
      const events = await env.settled("refused");
      expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.ERROR]);
      const error = events.find((e) => e.payload.case === "sessionError");
      expect(error?.payload.value).toMatchObject({ kind: "unauthorized", retryable: false });
      expect(error?.payload.case === "sessionError" && error.payload.value.message).toContain("401");
      expect(env.fake.requests).toHaveLength(1);
      expect(await env.runner.runSession("refused")).toEqual({ kind: "idle", stopReason: StopReason.ERROR });
      expect(await env.events("refused")).toEqual(events);
      expect(env.fake.requests).toHaveLength(1);
      // A client's Wake is new input: a running status in the log, then one request.
      const { lastSeq } = await env.harness.wake({ sessionId: "refused" });
      const woken = await env.settled("refused", lastSeq);
      expect(names(woken.filter((e) => e.seq > events.length))).toEqual([
        "session.status",
        "span.model_request",
        "session.error",
        "session.status",
      ]);
      expect(env.fake.requests).toHaveLength(2);
      // So is a message.
      env.fake.setScript(scriptTurns([{ content: [{ type: "text", text: "ok" }] }]));
      const { seq } = await env.harness.sendMessage({ sessionId: "refused", message: "with a good key now" });
      expect(statusOf(await env.settled("refused", seq))).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(env.fake.requests).toHaveLength(3);
    });

    it("keeps a rescheduled turn current: a message is refused, an Interrupt ends it and its retry", async () => {
      await using env = await startLoopEnv(() => ({ fault: "server_error" }), {
        reschedule: createReschedulePolicy({ attempts: 3, firstDelayMs: 600_000 }),
      });
      await env.harness.startSession({ sessionId: "waiting", config: config(), message: "go" });
      await untilStatus(env, "waiting", RunState.RESCHEDULING);
      await expect(env.harness.sendMessage({ sessionId: "waiting", message: "hello?" })).rejects.toMatchObject({
        code: Code.FailedPrecondition,
        rawMessage: "session waiting is running a turn: wait until it is idle, or Interrupt it",
      });
      // Woken early, it waits for its time and asks nothing.
      const requests = env.fake.requests.length;
      expect(await env.runner.runSession("waiting")).toMatchObject({ kind: "rescheduled" });
      expect(env.fake.requests).toHaveLength(requests);
      await env.harness.interrupt({ sessionId: "waiting", reason: "enough" });
      expect(statusOf(await env.events("waiting"))).toEqual([RunState.IDLE, StopReason.INTERRUPTED]);
      expect(env.runner.isRunning("waiting")).toBe(false);
    });
  });

  it("records a config no run can use (an executor it may not call) and waits, instead of failing every Wake", async () => {
    await using env = await startLoopEnv(scriptTurns([]));
    // Written past the harness, straight to the session service, as any client may.
    await env.sessions.createSession({
      sessionId: "misconfigured",
      config: { ...config(), executorAddress: "not a url" },
    });
    await env.sessions.appendEvents({
      sessionId: "misconfigured",
      expectedLastSeq: 1n,
      events: [create(EventSchema, { id: "m-1", payload: { case: "userMessage", value: { text: "go" } } })],
    });
    const { lastSeq } = await env.harness.wake({ sessionId: "misconfigured" });
    const events = await env.settled("misconfigured", lastSeq);
    expect(statusOf(events)).toEqual([RunState.IDLE, StopReason.ERROR]);
    const error = events.find((e) => e.payload.case === "sessionError");
    expect(error?.payload.value).toMatchObject({ kind: "invalid_config", retryable: false });
    expect(error?.payload.case === "sessionError" && error.payload.value.message).toContain('executor "not a url"');
    expect(env.fake.answered()).toHaveLength(0);
    // Each Wake (its running status the last event it reports) says so again, and
    // no model request is ever made for it.
    const again = await env.harness.wake({ sessionId: "misconfigured" });
    const after = await env.settled("misconfigured", again.lastSeq);
    expect(statusOf(after)).toEqual([RunState.IDLE, StopReason.ERROR]);
    expect(names(after.filter((e) => e.seq >= again.lastSeq))).toEqual([
      "session.status",
      "session.error",
      "session.status",
    ]);
    expect(env.fake.answered()).toHaveLength(0);
  });

  it("runs no call whose lease check fails: the run stops as fenced", async () => {
    await using env = await startLoopEnv(threeTurns);
    const runner = env.newRunner();
    await env.sessions.createSession({ sessionId: "leased", config: config(), eventId: "c1" });
    const user = create(EventSchema, { id: "u1", payload: { case: "userMessage", value: { text: "go" } } });
    await env.sessions.appendEvents({ sessionId: "leased", expectedLastSeq: 1n, events: [user] });
    const guarded = createSessionRunner({
      sessions: env.sessions,
      model: createAnthropicAdapter({ apiKey: "k", baseURL: env.fake.url }),
      executors: createExecutorPool({ defaultAddress: env.executor.url }),
      beforeToolCall: () => {
        throw new OwnershipLostError("lease lost");
      },
    });
    expect(await guarded.runSession("leased")).toMatchObject({ kind: "fenced" });
    expect(env.executor.calls).toHaveLength(0);
    expect(names(await env.events("leased")).at(-1)).toBe("agent.tool_use_started");
    // Whoever holds the session next reports the calls, without running them twice.
    expect(await runner.runSession("leased")).toMatchObject({ kind: "idle" });
    expect(env.executor.calls.map((c) => JSON.parse(c.inputJson).command)).toEqual(["cat notes"]);
  });

  describe("the model request after tool calls, sent while their results are being acknowledged", () => {
    // A runner whose results appends wait for `release`, with the real model and executor.
    async function heldResults(env: LoopEnv, release: Promise<unknown>, onHeld: () => Promise<void> = async () => {}) {
      const sessions: SessionClient = {
        ...env.sessions,
        async appendEvents(request, options) {
          if (request.events?.some((e) => e.payload?.case === "agentToolResult")) {
            order.push("results append");
            await onHeld();
            await release;
          }
          return env.sessions.appendEvents(request, options);
        },
      };
      const model = createAnthropicAdapter({ apiKey: "k", baseURL: env.fake.url });
      let answers = 0;
      const answered: Array<() => void> = [];
      // Model requests and results appends, in the order the loop made them.
      const order: string[] = [];
      const runner = createSessionRunner({
        sessions,
        deltas: env.deltas,
        executors: createExecutorPool({ defaultAddress: env.executor.url }),
        model: {
          async stream(request, options) {
            order.push(`request ${order.filter((o) => o.startsWith("request")).length + 1}`);
            const response = await model.stream(request, options);
            answers++;
            for (const done of answered.splice(0)) done();
            return response;
          },
        },
      });
      const sessionId = `held-${answers}-${Math.random().toString(36).slice(2, 8)}`;
      await env.sessions.createSession({ sessionId, config: config(), eventId: "c1" });
      const user = create(EventSchema, { id: "u1", payload: { case: "userMessage", value: { text: "go" } } });
      await env.sessions.appendEvents({ sessionId, expectedLastSeq: 1n, events: [user] });
      /** Resolves once the model has answered `n` requests in all. */
      const answersReach = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => (answers >= n ? resolve() : answered.push(check));
          check();
        });
      return { runner, sessionId, answersReach, order };
    }

    it("goes out before they are appended; its text is shown and its answer written only once they are acknowledged", async () => {
      await using env = await startLoopEnv(threeTurns);
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const { runner, sessionId, answersReach, order } = await heldResults(env, released);
      const texts: { turn: number; text: string }[] = [];
      await env.deltas.subscribe(sessionId, (d) => texts.push({ turn: d.turn, text: d.text }));
      const run = runner.runSession(sessionId);

      // The second request reached the model, and its whole answer came back, while
      // the first turn's results are still unacknowledged.
      const [, second] = await env.fake.waitForRequests(2);
      expect(lastToolResults(second?.body).map((r) => r.content)).toEqual(["ran echo one", "ran echo two"]);
      await answersReach(2);
      await env.nc.flush(); // every delta published so far has been delivered
      expect(texts.filter((t) => t.turn === 2)).toEqual([]);
      expect(names(await env.events(sessionId)).filter((n) => n === "agent.message")).toHaveLength(1);
      // The request went out before the (last) results append did its work.
      expect(order.lastIndexOf("results append")).toBeGreaterThan(order.indexOf("request 2"));

      release();
      expect(await run).toEqual({ kind: "idle", stopReason: StopReason.END_TURN });
      const events = await env.events(sessionId);
      expect(logProblems(events)).toEqual([]);
      expect(names(events).filter((n) => n === "agent.message")).toHaveLength(3);
      expect(
        texts
          .filter((t) => t.turn === 2)
          .map((t) => t.text)
          .join(""),
      ).toBe("Got ran echo one and ran echo two.");
      expect(toolPairingProblems(env.fake.requests)).toEqual([]);
    });

    it("is cancelled when another writer takes the session meanwhile, and nothing more is written", async () => {
      const never = new Promise<void>(() => {});
      await using env = await startLoopEnv(
        scriptTurns([parallel, { content: [{ type: "text", text: "x" }], hold: never }]),
      );
      let intruded = false;
      const { runner, sessionId } = await heldResults(env, Promise.resolve(), async () => {
        if (intruded) return;
        intruded = true;
        // Hold the append until the next request is streaming, then let another writer in first.
        await env.fake.waitForRequests(2);
        const { session } = await env.sessions.getSession({ sessionId });
        await env.sessions.appendEvents({
          sessionId,
          expectedLastSeq: session?.lastSeq ?? 0n,
          events: [create(EventSchema, { id: "intruder", payload: { case: "userMessage", value: { text: "mine" } } })],
        });
      });
      // Without the cancel, the held answer would keep the run waiting for ever.
      expect(await runner.runSession(sessionId)).toMatchObject({ kind: "fenced" });
      const events = await env.events(sessionId);
      expect(names(events).slice(-2)).toEqual(["agent.tool_use_started", "user.message"]);
      expect(events.at(-1)?.id).toBe("intruder");
    });
  });

  it("stops writing as soon as another writer owns the session (a zombie)", async () => {
    let intruded = false;
    await using env = await startLoopEnv(async () => {
      if (!intruded) {
        intruded = true;
        const { session } = await env.sessions.getSession({ sessionId: "zombie" });
        await env.sessions.appendEvents({
          sessionId: "zombie",
          expectedLastSeq: session?.lastSeq ?? 0n,
          events: [
            create(EventSchema, { id: "intruder-1", payload: { case: "userMessage", value: { text: "mine" } } }),
          ],
        });
      }
      return parallel;
    });
    const sessionId = "zombie";
    const { sessionId: id } = await env.harness.startSession({ sessionId, config: config(), message: "go" });
    expect(await env.runner.runSession(id)).toMatchObject({ kind: "fenced" });
    const events = await env.events(id);
    expect(names(events)).toEqual(["session.created", "user.message", "session.status", "user.message"]);
    expect(env.executor.calls).toHaveLength(0);
  });
});
