import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createSessionFold, outcomeUnknown } from "@reins/harness-core";
import { type Event, HarnessService, RunState, StopReason } from "@reins/proto";
import { type Daemon, type FakeScript, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import { lastStatus } from "./support/session-status.js";

// A harness is SIGKILLed right after each event of a scripted session is
// written, one crash point per process; a replica working the wake queue takes
// the session over (Wake) and finishes it from the log. Crash points run a few
// at a time: each is its own session on its own doomed process.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh", "wait"] };

const script: FakeScript = scriptTurns([
  {
    content: [
      { type: "text", text: "Two commands at once." },
      { type: "tool_use", id: "toolu_a", name: "sh", input: { command: "echo a" } },
      { type: "tool_use", id: "toolu_b", name: "sh", input: { command: "sleep 0.3; echo b" } },
    ],
  },
  {
    content: [
      { type: "text", text: "One more, safe to repeat." },
      { type: "tool_use", id: "toolu_c", name: "wait", input: { command: "echo c" } },
    ],
  },
  { content: [{ type: "text", text: "All done." }] },
]);

const ackWait = { REINS_WAKE_MODE: "queue", REINS_WAKE_ACK_WAIT_MS: "1000" };
const parallel = 4;

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

const transcript = (sessionId: string, events: readonly Event[]) => createSessionFold(sessionId, events).conversation();

// Tool results become "" so transcripts compare on everything else; results are compared on their own.
function shape(sessionId: string, events: readonly Event[]) {
  return transcript(sessionId, events).map((m) => ({
    role: m.role,
    content: m.content.map((b) => (b.type === "tool_result" ? { ...b, content: "", is_error: false } : b)),
  }));
}

function resultsOf(sessionId: string, events: readonly Event[]): Record<string, string> {
  const results: Record<string, string> = {};
  for (const message of transcript(sessionId, events)) {
    for (const block of message.content) if (block.type === "tool_result") results[block.tool_use_id] = block.content;
  }
  return results;
}

/** Executions the executor finished, per `<session>/<call>`, from its log lines. */
function executions(executor: Daemon): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of executor.output) {
    if (!line.includes('"tool call finished"')) continue;
    const { sessionId, callId } = JSON.parse(line) as { sessionId: string; callId: string };
    counts.set(`${sessionId}/${callId}`, (counts.get(`${sessionId}/${callId}`) ?? 0) + 1);
  }
  return counts;
}

async function crashAt(stack: HarnessStack, seq: number) {
  // Direct mode: the doomed process runs only what it records, so no healthy replica races it.
  const doomed = await stack.startHarness({
    REINS_WAKE_MODE: "direct",
    REINS_FAULT_INJECTION: "1",
    REINS_FAULT_CRASH_AFTER: `seq:${seq}`,
  });
  const client = createClient(HarnessService, createGrpcTransport({ baseUrl: doomed.url }));
  const { sessionId } = await client.startSession({ config, message: "go" });
  await doomed.exited;
  expect(doomed.output.join("\n")).toContain("fault injection: crashing now");
  const before = await stack.events(sessionId);
  return { sessionId, before };
}

describe("crash at every point of a session", { timeout: 240_000 }, () => {
  it("SIGKILL after each event, then a wake-queue replica: same transcript, no duplicates, no tool run twice", async () => {
    await using stack = await startHarnessStack(script, ackWait);
    const healthy = stack.client();
    const reference = await (async () => {
      const { sessionId } = await healthy.startSession({ config, message: "go" });
      return { sessionId, events: await stack.settled(sessionId) };
    })();
    expect(lastStatus(reference.events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const k = reference.events.length;
    // Seq 1-3 (created, message, running) are written by StartSession itself, before any run.
    const points = Array.from({ length: k - 3 }, (_, i) => i + 4);

    const outcomes: Array<{ seq: number; sessionId: string; before: Event[]; after: Event[] }> = [];
    for (let i = 0; i < points.length; i += parallel) {
      const batch = await Promise.all(
        points.slice(i, i + parallel).map(async (seq) => {
          const { sessionId, before } = await crashAt(stack, seq);
          expect(before.length, `crash after seq ${seq}`).toBeGreaterThanOrEqual(seq);
          const { lastSeq } = await healthy.wake({ sessionId });
          const after = lastStatus(before)[0] === RunState.IDLE ? before : await stack.settled(sessionId, lastSeq);
          return { seq, sessionId, before, after };
        }),
      );
      outcomes.push(...batch);
    }

    const expected = resultsOf(reference.sessionId, reference.events);
    // The points cover both turns with tools: some crash cut calls short, some left them answered.
    expect(points.length).toBeGreaterThanOrEqual(10);
    const cut = outcomes.filter((o) => Object.values(resultsOf(o.sessionId, o.after)).includes(outcomeUnknown));
    expect(cut.length).toBeGreaterThan(0);
    expect(cut.length).toBeLessThan(outcomes.length);
    for (const { seq, sessionId, before, after } of outcomes) {
      const at = `crash after seq ${seq}`;
      expect(lastStatus(after), at).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(after.slice(0, before.length), at).toEqual(before);
      expect(logProblems(after), at).toEqual([]);
      expect(shape(sessionId, after), at).toEqual(shape(reference.sessionId, reference.events));
      const got = resultsOf(sessionId, after);
      expect(Object.keys(got).sort(), at).toEqual(Object.keys(expected).sort());
      for (const [id, output] of Object.entries(got)) {
        // The one idempotent call is run again instead; the others are what the crash-free run got, or unknown.
        if (output !== outcomeUnknown || id === "toolu_c") expect(output, `${at}: ${id}`).toBe(expected[id]);
      }
    }
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
    expect(stack.fake.requests.filter((r) => r.status !== 200).map((r) => r.outcome)).toEqual([]);
    // Non-idempotent calls ran at most once per session; the idempotent one at most twice (cut, then re-run).
    const ran = executions(stack.executor);
    expect(ran.size).toBeGreaterThan(points.length);
    for (const [key, count] of ran) {
      expect(count, key).toBeLessThanOrEqual(key.endsWith("/toolu_c") ? 2 : 1);
    }
  });
});
