import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AgentConfigSchema, type Event, RunState, StopReason } from "@reins/proto";
import { type FakeTurn, inputTokensOf, scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { createSessionFold, loadSession, type SessionClient } from "../log/index.js";
import { logProblems, toolPairingProblems } from "../testing/assertions.js";
import { startLoopEnv } from "../testing/loop-env.js";

const window = 20_000;
const calls = 80;

const config = (policy: { contextWindowTokens?: number; disabled?: boolean } = {}, systemPrompt = "Be brief.") =>
  create(AgentConfigSchema, {
    model: "claude-test",
    systemPrompt,
    tools: ["bash"],
    contextPolicy: { contextWindowTokens: window, ...policy },
  });

// One tool call per turn, `calls` of them, then the end of the task.
const manyCalls = scriptTurns([
  ...Array.from(
    { length: calls },
    (_, i): FakeTurn => ({
      content: [
        { type: "text", text: `Step ${i}.` },
        { type: "tool_use", name: "bash", input: { command: `print ${i}` } },
      ],
    }),
  ),
  { content: [{ type: "text", text: "All steps done." }] },
]);

const bigOutput = (n: number) => `${"0123456789abcdef".repeat(n / 16)}`;

function compactions(events: readonly Event[]) {
  return events.flatMap((e) =>
    e.payload.case === "agentContextCompacted" ? [{ seq: e.seq, ...e.payload.value }] : [],
  );
}

function lastStatus(events: readonly Event[]) {
  const s = events.findLast((e) => e.payload.case === "sessionStatus");
  return s?.payload.case === "sessionStatus" ? [s.payload.value.state, s.payload.value.stopReason] : [];
}

function errorsOf(events: readonly Event[]) {
  return events.flatMap((e) => (e.payload.case === "sessionError" ? [e.payload.value.kind] : []));
}

describe("context management", () => {
  it("keeps every request of a long session inside the window, by clearing and summarising", async () => {
    await using env = await startLoopEnv(manyCalls);
    env.fake.setContextWindow(window);
    env.executor.setHandler(() => ({ output: bigOutput(8_000) }));
    await env.harness.startSession({ sessionId: "long", config: config(), message: "do all the steps" });
    const events = await env.settled("long");

    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
    expect(env.fake.requests.filter((r) => r.status !== 200)).toEqual([]);
    for (const r of env.fake.requests) expect(inputTokensOf(r.body ?? {})).toBeLessThanOrEqual(window);
    expect(env.executor.calls).toHaveLength(calls);
    const made = compactions(events);
    expect(made.some((c) => c.summary !== "")).toBe(true);
    expect(made.some((c) => c.summary === "" && c.toolResultsCleared > 0)).toBe(true);
    for (const c of made) expect(c.tokensAfter).toBeLessThan(c.tokensBefore);
    // Each summary request is a model request of its own, in the log before its compaction.
    const summaries = env.fake.requests.filter((r) => JSON.stringify(r.body).includes("Summarize the conversation"));
    const spans = events.filter((e) => e.payload.case === "spanModelRequest");
    const messages = env.fake.requests.filter((r) => r.outcome !== "count_tokens");
    expect(spans).toHaveLength(messages.length);
    // The API's count decided before each compaction.
    expect(env.fake.requests.filter((r) => r.outcome === "count_tokens").length).toBeGreaterThanOrEqual(made.length);
    expect(summaries.length).toBe(made.filter((c, i) => c.summary !== "" && c.summary !== made[i - 1]?.summary).length);
    // The counters a checkpoint carries are those of the whole log.
    const full = createSessionFold("long", events);
    const last = made.at(-1);
    expect(last).toBeDefined();
    const before = createSessionFold(
      "long",
      events.filter((e) => e.seq <= (last?.seq ?? 0n)),
    );
    expect(last?.turns).toBe(before.turns);
    // A fold that starts at the latest checkpoint builds the same view as one of the whole log.
    const tail = events.filter((e) => e.seq > (last?.lastSeq ?? 0n) || e.payload.case === "sessionCreated");
    const resumed = createSessionFold("long", tail);
    expect(resumed.conversation()).toEqual(full.conversation());
    expect(resumed.turns).toBe(full.turns);
    expect(resumed.totalTokens).toBe(full.totalTokens);
    // A wake reads from there: the slice after the summary, not the log from seq 1.
    const reads: bigint[] = [];
    const counting: SessionClient = {
      ...env.sessions,
      getEvents: (req, opts) => {
        reads.push(req.afterSeq ?? 0n);
        return env.sessions.getEvents(req, opts);
      },
    };
    const loaded = await loadSession(counting, "long");
    const lastSummary = made.findLast((c) => c.summary !== "");
    expect(reads[0]).toBe(lastSummary?.lastSeq);
    expect(loaded.conversation()).toEqual(full.conversation());
    expect([loaded.turns, loaded.totalTokens, loaded.runState, loaded.next()]).toEqual([
      full.turns,
      full.totalTokens,
      full.runState,
      "idle",
    ]);
  });

  it("answers a prompt-too-long refusal with one compaction and one retry", async () => {
    await using env = await startLoopEnv(manyCalls);
    env.executor.setHandler(() => ({ output: bigOutput(8_000) }));
    // The policy believes in a window four times the real one: the API is the one to refuse.
    env.fake.setContextWindow(window);
    await env.harness.startSession({
      sessionId: "refused",
      config: config({ contextWindowTokens: window * 4 }),
      message: "do all the steps",
    });
    const events = await env.settled("refused");
    const refused = env.fake.requests.filter((r) => r.outcome === "prompt_too_long");
    expect(refused.length).toBeGreaterThan(0);
    // Never twice in a row: each refusal is followed by an answered request.
    for (const r of refused) expect(env.fake.requests[r.index + 1]?.outcome).not.toBe("prompt_too_long");
    expect(compactions(events).filter((c) => c.reason === "prompt_too_long")).toHaveLength(refused.length);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
  });

  it("ends a session that can never fit with context_overflow, idle, after a bounded number of requests", async () => {
    await using env = await startLoopEnv(manyCalls);
    env.fake.setContextWindow(window);
    await env.harness.startSession({
      sessionId: "never",
      config: config({ contextWindowTokens: window * 4 }, "x".repeat(window * 5)),
      message: "go",
    });
    const events = await env.settled("never");
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.ERROR]);
    expect(errorsOf(events)).toEqual(["context_overflow"]);
    expect(env.fake.requests.length).toBeLessThanOrEqual(2);
    // A client's Wake is one more try, and it ends the same way: nothing loops.
    const requests = env.fake.requests.length;
    await env.harness.wake({ sessionId: "never" });
    const again = await env.settled("never", events.at(-1)?.seq);
    expect(errorsOf(again)).toEqual(["context_overflow", "context_overflow"]);
    expect(lastStatus(again)).toEqual([RunState.IDLE, StopReason.ERROR]);
    expect(env.fake.requests.length - requests).toBeLessThanOrEqual(2);
  });

  it("clears a tool result larger than the window rather than sending it, and goes on", async () => {
    await using env = await startLoopEnv(scriptTurns([manyCallsTurn(0), { content: [{ type: "text", text: "ok" }] }]));
    env.fake.setContextWindow(window);
    env.executor.setHandler(() => ({ output: bigOutput(window * 8) }));
    await env.harness.startSession({ sessionId: "huge", config: config(), message: "go" });
    const events = await env.settled("huge");
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(env.fake.requests.filter((r) => r.status !== 200)).toEqual([]);
    expect(compactions(events).at(-1)?.toolResultsCleared).toBe(1);
  });

  it("refuses a bad context policy at StartSession with INVALID_ARGUMENT", async () => {
    await using env = await startLoopEnv(manyCalls);
    const start = (contextPolicy: object) =>
      env.harness.startSession({ config: create(AgentConfigSchema, { model: "m", contextPolicy }), message: "go" });
    await expect(start({ threshold: 1.5 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(start({ threshold: 1.5 })).rejects.toThrow(/context_policy.threshold 1.5 is out of range/);
    await expect(start({ contextWindowTokens: 10 })).rejects.toThrow(/context_window_tokens 10 is out of range/);
  });
});

function manyCallsTurn(i: number): FakeTurn {
  return { content: [{ type: "tool_use", name: "bash", input: { command: `print ${i}` } }] };
}
