import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createSessionFold } from "@reins/harness-core";
import { type Event, HarnessService, RunState, StopReason } from "@reins/proto";
import {
  type CapturedRequest,
  type Daemon,
  type FakeScript,
  type FakeTurn,
  inputTokensOf,
  isSummaryRequest,
  summaryTurn,
  toolPairingProblems,
} from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import { logInvariantProblems } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";
import { talkativeScript, talkativeWindow } from "./support/talkative-script.js";

// A harness is SIGKILLed at each point of a compaction: when its summary
// request reaches the model, while the summary streams back, and right after
// the compaction's append is acknowledged. A replica on the wake queue (another
// process) then takes the session over. Whatever the point, the log ends with
// exactly the compaction a crash-free run makes, nothing lost or written twice,
// and every request after the wake is a valid conversation inside the window.

const window = talkativeWindow;
const script = talkativeScript(9);

type Point = "request" | "streaming" | "appended";
const config = (name: string) => ({
  model: "claude-test",
  systemPrompt: `Be brief. (${name})`,
  tools: ["sh"],
  contextPolicy: { contextWindowTokens: window },
});
const nameOf = (r: CapturedRequest) => JSON.stringify(r.body?.system ?? "").match(/\((\w+)\)/)?.[1] ?? "";

// What the model does with a summary request of the session named in its system prompt, once.
const armed = new Map<string, (request: CapturedRequest) => FakeTurn | Promise<FakeTurn>>();
const model: FakeScript = (request) => {
  if (!isSummaryRequest(request.body)) return script(request);
  const act = armed.get(nameOf(request));
  armed.delete(nameOf(request));
  return act ? act(request) : summaryTurn(request.body);
};

const compactions = (events: readonly Event[]) => events.filter((e) => e.payload.case === "agentContextCompacted");
const spans = (events: readonly Event[]) => events.filter((e) => e.payload.case === "spanModelRequest");
const agentMessages = (events: readonly Event[]) => events.filter((e) => e.payload.case === "agentMessage");

async function crash(stack: HarnessStack, point: Point) {
  // Direct mode: the doomed process runs only what it starts, so no healthy replica races it.
  const doomed: Daemon = await stack.startHarness({
    REINS_WAKE_MODE: "direct",
    ...(point === "appended"
      ? { REINS_FAULT_INJECTION: "1", REINS_FAULT_CRASH_AFTER: "agent.context_compacted:1" }
      : {}),
  });
  const kill = () => doomed.kill("SIGKILL");
  if (point === "request") {
    armed.set(point, async (request) => {
      await kill();
      return summaryTurn(request.body);
    });
  }
  if (point === "streaming") armed.set(point, (request) => ({ ...summaryTurn(request.body), hold: kill }));
  const client = createClient(HarnessService, createGrpcTransport({ baseUrl: doomed.url }));
  const { sessionId } = await client.startSession({ config: config(point), message: "do all the steps" });
  await doomed.exited;
  return { sessionId, before: await stack.events(sessionId) };
}

describe("crash at each point of a compaction", { timeout: 300_000 }, () => {
  it("SIGKILL on the summary request, while it streams, after its append; a wake elsewhere: one complete compaction", async () => {
    await using stack = await startHarnessStack(
      model,
      { REINS_WAKE_MODE: "queue", REINS_WAKE_ACK_WAIT_MS: "1000" },
      { contextWindowTokens: window, summaries: false },
    );
    const healthy = stack.client();
    const reference = await (async () => {
      const { sessionId } = await healthy.startSession({ config: config("reference"), message: "do all the steps" });
      return { sessionId, events: await stack.settled(sessionId, 0n, 120_000) };
    })();
    expect(lastStatus(reference.events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const made = compactions(reference.events);
    expect(made).toHaveLength(1);
    expect(made[0]?.payload.case === "agentContextCompacted" && made[0].payload.value.summary).not.toBe("");
    const view = createSessionFold(reference.sessionId, reference.events).conversation();

    for (const point of ["request", "streaming", "appended"] as const) {
      const at = `crash at ${point}`;
      const { sessionId, before } = await crash(stack, point);
      const { lastSeq } = await healthy.wake({ sessionId });
      const after = await stack.settled(sessionId, lastSeq, 120_000);

      expect(lastStatus(after), at).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(after.slice(0, before.length), at).toEqual(before);
      expect(logInvariantProblems(sessionId, after, []), at).toEqual([]);
      if (point === "appended") {
        // The crash came right after the append: the compaction, with its summary's span, is complete.
        expect(before.at(-1)?.payload.case, at).toBe("agentContextCompacted");
        expect(before.at(-2)?.payload.case, at).toBe("spanModelRequest");
      } else {
        // The summary never came back: nothing of it is in the log.
        expect(compactions(before), at).toEqual([]);
        expect(spans(before).length, at).toBe(agentMessages(before).length);
      }
      // One complete compaction in all, the same the crash-free run made, and the same view from it.
      expect(compactions(after).length, at).toBe(1);
      expect(createSessionFold(sessionId, after).conversation(), at).toEqual(view);

      const requests = stack.fake.requests.filter((r) => nameOf(r) === point && r.outcome !== "count_tokens");
      const summaries = requests.filter((r) => isSummaryRequest(r.body));
      // The attempt cut short asked once and the wake once more; a compaction in the log is never asked for again.
      expect(summaries.length, at).toBe(point === "appended" ? 1 : 2);
      for (const r of requests) expect(inputTokensOf(r.body ?? {}), at).toBeLessThanOrEqual(window);
      expect(
        requests.filter((r) => r.status !== 200),
        at,
      ).toEqual([]);
    }
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
    expect(armed.size).toBe(0);
  });
});
