import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { outcomeUnknown } from "@reins/harness-core";
import { type Event, eventNameOf, HarnessService, RunState, StopReason } from "@reins/proto";
import { type Daemon, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { connect, headers } from "nats";
import { describe, expect, it } from "vitest";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import { lastStatus } from "./support/session-status.js";

// Several harness replicas on the wake work queue (REINS_WAKE), as real
// processes: a dead replica's session is taken over after the ack wait, a paused
// one is fenced out when it wakes up, one that only lags keeps its sessions, and a
// session never has two writers.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };
const ackWait = { REINS_WAKE_MODE: "queue", REINS_WAKE_ACK_WAIT_MS: "1000" };

const clientOf = (daemon: Daemon) => createClient(HarnessService, createGrpcTransport({ baseUrl: daemon.url }));

function logProblems(events: readonly Event[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  events.forEach((event, i) => {
    if (ids.has(event.id)) problems.push(`duplicate event id ${event.id}`);
    ids.add(event.id);
    if (event.seq !== BigInt(i + 1)) problems.push(`event ${i} has seq ${event.seq}`);
  });
  return problems;
}

function resultOf(events: readonly Event[], toolUseId: string): string | undefined {
  for (const e of events) {
    if (e.payload.case === "agentToolResult" && e.payload.value.toolUseId === toolUseId) return e.payload.value.output;
  }
  return undefined;
}

/** Executions of a call the executor finished, from its log lines. */
function executions(executor: Daemon, callId: string): number {
  return executor.output.filter((line) => line.includes('"tool call finished"') && line.includes(`"${callId}"`)).length;
}

/** Resolves once the daemon has logged a line matching `pattern` (it logs asynchronously). */
async function logged(daemon: Daemon, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = daemon.output.find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line matching ${pattern}:\n${daemon.output.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves with the log once an event of that name is in it. */
async function untilEvent(stack: HarnessStack, sessionId: string, name: string): Promise<void> {
  const leave = new AbortController();
  try {
    const stream = stack.sessions.streamEvents({ sessionId, afterSeq: 0n }, { signal: leave.signal });
    for await (const { event } of stream) if (event && eventNameOf(event) === name) return;
  } finally {
    leave.abort();
  }
}

describe("the wake work queue", { timeout: 120_000 }, () => {
  it("hands a SIGKILLed replica's session to another replica after the ack wait, without any Wake", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_k", name: "sh", input: { command: "echo k" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script, {
      ...ackWait,
      REINS_FAULT_INJECTION: "1",
      REINS_FAULT_CRASH_AFTER: "agent.tool_use_started:1",
    });
    const doomed = stack.harness();
    const { sessionId } = await clientOf(doomed).startSession({ config, message: "go" });
    await doomed.exited;
    const survivor = await stack.startHarness({ REINS_FAULT_CRASH_AFTER: "" });
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    expect(resultOf(events, "toolu_k")).toBe(outcomeUnknown);
    expect(await logged(survivor, /wake redelivered/)).toContain(sessionId);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("keeps a session on a replica whose event loop stalls for longer than the ack wait: no hand-over, the call runs once", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_lag", name: "sh", input: { command: "echo kept-going" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    // Blocked for six ack waits right after its intent is written (the keeper thread's guard is 10 s).
    await using stack = await startHarnessStack(script, {
      ...ackWait,
      REINS_FAULT_INJECTION: "1",
      REINS_FAULT_STALL_AFTER: "agent.tool_use_started:1:6000",
    });
    const lagging = stack.harness();
    const { sessionId } = await clientOf(lagging).startSession({ config, message: "go" });
    await logged(lagging, /fault injection: stalling now/);
    // Another replica ready to take the session, were its wake handed over.
    const other = await stack.startHarness({ REINS_FAULT_STALL_AFTER: "" });
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    expect(resultOf(events, "toolu_lag")).toContain("kept-going");
    expect(executions(stack.executor, "toolu_lag")).toBe(1);
    for (const daemon of [lagging, other]) {
      expect(daemon.output.join("\n")).not.toMatch(/wake redelivered|wake lease lost|fenced out/);
    }
  });

  it("fences out a replica paused in a tool call: it writes nothing more and runs no tool after losing", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_slow", name: "sh", input: { command: "sleep 2; echo slow" } }] },
      { content: [{ type: "tool_use", id: "toolu_next", name: "sh", input: { command: "echo next" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script, ackWait);
    const paused = stack.harness();
    const { sessionId } = await clientOf(paused).startSession({ config, message: "go" });
    await untilEvent(stack, sessionId, "agent.tool_use_started");
    paused.signal("SIGSTOP");
    try {
      await stack.startHarness();
      const taken = await stack.settled(sessionId);
      expect(lastStatus(taken)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(resultOf(taken, "toolu_slow")).toBe(outcomeUnknown);
    } finally {
      paused.signal("SIGCONT");
    }
    const before = await stack.events(sessionId);
    await logged(paused, /wake lease lost/);
    expect(paused.output.join("\n")).toMatch(/fenced out: another writer owns the session/);
    expect(await stack.events(sessionId)).toEqual(before);
    expect(logProblems(before)).toEqual([]);
    // Paused inside Execute, the call ran once (its container went on while the process slept) and
    // the result append was refused; paused between its intent and Execute, the lease check refused the call.
    const slow = executions(stack.executor, "toolu_slow");
    expect(slow).toBeLessThanOrEqual(1);
    if (slow === 0) expect(paused.output.join("\n")).toMatch(/lease ran out before tool call toolu_slow/);
    expect(executions(stack.executor, "toolu_next")).toBe(1);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  // Also with the daemon's default ack wait (nothing set), the one operators get.
  it.each([
    ["an ack wait of 1 s", ackWait],
    ["the default ack wait", { REINS_WAKE_MODE: "queue" }],
  ])("fences out a replica paused mid model call (%s): it never runs the tool the answer asked for", async (_, env) => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const script = scriptTurns([
      {
        content: [
          { type: "text", text: "Running it." },
          { type: "tool_use", id: "toolu_m", name: "sh", input: { command: "echo m" } },
        ],
        hold: gate,
      },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script, env);
    const paused = stack.harness();
    const { sessionId } = await clientOf(paused).startSession({ config, message: "go" });
    await stack.fake.waitForRequests(1);
    paused.signal("SIGSTOP");
    try {
      // The answer is sent in full while the process sleeps; the new replica gets the same one.
      release();
      await stack.startHarness();
      const taken = await stack.settled(sessionId);
      expect(lastStatus(taken)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    } finally {
      paused.signal("SIGCONT");
    }
    const before = await stack.events(sessionId);
    await logged(paused, /wake lease lost/);
    expect(paused.output.join("\n")).toMatch(/fenced out: another writer owns the session/);
    expect(await stack.events(sessionId)).toEqual(before);
    expect(logProblems(before)).toEqual([]);
    // Its first append after waking up (the model's answer) was refused with ABORTED.
    expect(paused.output.join("\n")).toMatch(/written by another writer after seq/);
    expect(before.filter((e) => eventNameOf(e) === "agent.message")).toHaveLength(2);
    expect(executions(stack.executor, "toolu_m")).toBe(1);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("hands a session back at once when a replica shuts down gracefully (no ack wait)", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_t", name: "sh", input: { command: "sleep 5; echo t" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    // An ack wait far longer than the test may take: only a hand-back can move the session in time.
    await using stack = await startHarnessStack(script, { ...ackWait, REINS_WAKE_ACK_WAIT_MS: "120000" });
    const leaving = stack.harness();
    const { sessionId } = await clientOf(leaving).startSession({ config, message: "go" });
    await untilEvent(stack, sessionId, "agent.tool_use_started");
    const staying = await stack.startHarness();
    await leaving.kill("SIGTERM");
    const events = await stack.settled(sessionId, 0n, 60_000);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    // The naked wake, which the server may or may not count as a redelivery.
    expect(await logged(staying, /wake taken|wake redelivered/)).toContain(sessionId);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("never gives one session two writers: repeated Wakes on two replicas while it runs", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_w", name: "sh", input: { command: "sleep 1; echo w" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script, ackWait);
    const first = stack.harness();
    const second = await stack.startHarness();
    const { sessionId } = await clientOf(first).startSession({ config, message: "go" });
    await untilEvent(stack, sessionId, "agent.tool_use_started");
    for (let i = 0; i < 5; i++) {
      await clientOf(second).wake({ sessionId });
      await clientOf(first).wake({ sessionId });
    }
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    expect(stack.fake.answered()).toHaveLength(2);
    expect(executions(stack.executor, "toolu_w")).toBe(1);
    for (const daemon of [first, second]) {
      // Each Wake found the session's wake queued or being worked: none ran it beside the queue.
      expect(daemon.output.join("\n")).not.toMatch(/fenced out|cannot queue a wake/);
    }
  });

  it("drops the wake of a deleted session", async () => {
    await using stack = await startHarnessStack(scriptTurns([{ content: [{ type: "text", text: "Hi." }] }]), ackWait);
    const { sessionId } = await stack.client().startSession({ config, message: "go" });
    await stack.settled(sessionId);
    const { lastSeq } = await stack.client().wake({ sessionId });
    await stack.sessions.deleteSession({ sessionId });
    // A wake published for it now finds no session: acked and dropped, not retried forever.
    const nc = await connect({ servers: stack.nats.url });
    try {
      const h = headers();
      h.set("Nats-Msg-Id", `${sessionId}:${lastSeq}:again`);
      await nc.jetstream().publish(`reins.wake.${sessionId}`, undefined, { headers: h });
      await logged(stack.harness(), /no longer exists: dropped/);
      const jsm = await nc.jetstreamManager();
      const deadline = Date.now() + 10_000;
      let left = -1;
      while (left !== 0 && Date.now() < deadline) {
        const info = await jsm.consumers.info("REINS_WAKE", "harness");
        left = info.num_ack_pending + info.num_pending;
        if (left !== 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(left).toBe(0);
    } finally {
      await nc.close();
    }
  });
});
