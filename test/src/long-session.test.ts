import { type Event, RunState, StopReason } from "@reins/proto";
import { type FakeTurn, inputTokensOf, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startHarnessStack } from "./support/harness-stack.js";
import { logInvariantProblems } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";

// A session that does real work: 200 tool calls in real containers, each
// printing 20 KB (about 5,000 tokens), against a Messages API with a
// 50,000-token window. Without context management the conversation passes the
// window within ten calls; with it, every request fits and the task ends.

const window = 50_000;
const calls = 200;
const outputBytes = 20 * 1024;

const config = {
  model: "claude-test",
  systemPrompt: "Be brief.",
  tools: ["sh"],
  contextPolicy: { contextWindowTokens: window },
};

const script = scriptTurns([
  ...Array.from(
    { length: calls },
    (_, i): FakeTurn => ({
      content: [
        { type: "text", text: `Step ${i + 1} of ${calls}.` },
        { type: "tool_use", name: "sh", input: { command: `yes "line of step ${i + 1}" | head -c ${outputBytes}` } },
      ],
    }),
  ),
  { content: [{ type: "text", text: "All steps done." }] },
]);

const compactions = (events: readonly Event[]) =>
  events.flatMap((e) => (e.payload.case === "agentContextCompacted" ? [e.payload.value] : []));

describe("a long session", { timeout: 1_200_000 }, () => {
  it("200 calls of 20 KB in a 50,000-token window: end_turn, no request over the window, every tool_use answered", async () => {
    await using stack = await startHarnessStack(script, {}, { contextWindowTokens: window });
    const { sessionId } = await stack.client().startSession({ config, message: "do all the steps" });
    const events = await stack.settled(sessionId, 0n, 1_100_000);

    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const results = events.filter((e) => e.payload.case === "agentToolResult");
    expect(results).toHaveLength(calls);
    for (const r of results) {
      if (r.payload.case !== "agentToolResult") continue;
      expect(r.payload.value.isError).toBe(false);
      expect(r.payload.value.output.length).toBe(outputBytes);
    }
    expect(logInvariantProblems(sessionId, events, [])).toEqual([]);

    const messages = stack.fake.requests.filter((r) => r.outcome !== "count_tokens");
    expect(messages.filter((r) => r.status !== 200).map((r) => r.outcome)).toEqual([]);
    const largest = Math.max(...messages.map((r) => inputTokensOf(r.body ?? {})));
    expect(largest).toBeLessThanOrEqual(window);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);

    // Both tools of the policy were needed: clearing old results, then summaries of the turns before.
    const made = compactions(events);
    expect(made.some((c) => c.summary === "" && c.toolResultsCleared > 0)).toBe(true);
    expect(made.some((c) => c.summary !== "")).toBe(true);
    // Without any of it the conversation would have been about calls x 5,000 tokens.
    const unmanaged = (calls * outputBytes) / 4;
    console.log(
      `${calls} calls: ${messages.length} model requests, largest ${largest} tokens (window ${window}, ` +
        `${unmanaged} unmanaged), ${made.length} compactions, ${made.filter((c) => c.summary !== "").length} with a summary`,
    );
  });
});
