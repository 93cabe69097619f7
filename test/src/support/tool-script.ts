import { assistantTurns, type FakeScript, type FakeTurn } from "@reins/testkit";

/**
 * A deterministic model for fault tests: `turns - 1` turns that each call `sh`
 * once (a short command that sleeps `sleepMs`), then an end_turn answer. Tool
 * ids are per turn, so every session's log has the same shape.
 */
export function toolScript(turns: number, sleepMs = 200): FakeScript {
  return (request) => {
    const n = assistantTurns(request.body);
    if (n >= turns - 1) return { content: [{ type: "text", text: `Done after ${n} tool calls.` }] };
    const turn: FakeTurn = {
      content: [
        { type: "text", text: `Step ${n + 1}.` },
        {
          type: "tool_use",
          id: `toolu_step_${n + 1}`,
          name: "sh",
          input: { command: `echo step-${n + 1}; sleep ${(sleepMs / 1000).toFixed(3)}` },
        },
      ],
    };
    return turn;
  };
}
