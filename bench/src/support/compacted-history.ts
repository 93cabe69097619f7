import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Event, EventSchema, RunState, StopReason } from "@reins/proto";
import { uuidv7 } from "uuidv7";

// The cadence of compactions the 200-call end-to-end run made (20 KB results in
// a 50,000-token window): old tool results cleared every second turn, a summary
// every sixth, each clearing one repeating the latest summary.
const clearEvery = 2;
const summarizeEvery = 6;
const keepToolResults = 5;
const output = "x".repeat(400);

const event = (payload: MessageInitShape<typeof EventSchema>["payload"]): Event =>
  create(EventSchema, { id: uuidv7(), payload });

export function userMessage(text: string): Event {
  return event({ case: "userMessage", value: { text } });
}

/**
 * The events after `session.created` (seq 2 on) of a session that ran tool
 * calls, `size` of them: a task, then turns of an agent.message with one tool
 * call, its span, the call's intent and its result, with the
 * `agent.context_compacted` events context management would have written
 * between them (none when `compact` is false), ending idle after a last answer.
 */
export function compactedHistory(size: number, compact: boolean): Event[] {
  const events: Event[] = [userMessage("Do the long task."), status(RunState.RUNNING)];
  const seqOf = () => BigInt(events.length + 2);
  const results: bigint[] = [];
  let summary = { text: "", firstSeq: 0n, lastSeq: 0n };
  let turn = 0;
  while (events.length < size - 3) {
    const id = `toolu_${turn}`;
    const turnSeq = seqOf();
    events.push(
      event({
        case: "agentMessage",
        value: {
          model: "claude-bench",
          stopReason: StopReason.TOOL_USE,
          content: [
            { block: { case: "text", value: { text: `Doing step ${turn}.` } } },
            { block: { case: "toolUse", value: { id, name: "bash", inputJson: `{"command":"step ${turn}"}` } } },
          ],
        },
      }),
      span(),
      event({ case: "agentToolUseStarted", value: { toolUseId: id, name: "bash", inputJson: "{}" } }),
    );
    results.push(seqOf());
    events.push(event({ case: "agentToolResult", value: { toolUseId: id, name: "bash", output } }));
    turn++;
    if (!compact || turn % clearEvery !== 0) continue;
    if (turn % summarizeEvery === 0) {
      // The summary stands for everything before this turn, which the view keeps whole.
      events.push(span());
      summary = {
        text: `Summary of ${turn - 1} steps: all done, each printed its output.`,
        firstSeq: 1n,
        lastSeq: turnSeq - 1n,
      };
    }
    const cleared = results.filter((s) => s > summary.lastSeq).at(-1 - keepToolResults) ?? 0n;
    events.push(
      event({
        case: "agentContextCompacted",
        value: {
          summary: summary.text,
          firstSeq: summary.firstSeq,
          lastSeq: summary.lastSeq,
          clearedThroughSeq: cleared > summary.lastSeq ? cleared : summary.lastSeq,
          tokensBefore: 41_000n,
          tokensAfter: 26_000n,
          reason: "threshold",
          turns: turn,
          totalTokens: BigInt(turn * 940),
        },
      }),
    );
  }
  events.push(
    event({
      case: "agentMessage",
      value: {
        model: "claude-bench",
        stopReason: StopReason.END_TURN,
        content: [{ block: { case: "text", value: { text: "Done." } } }],
      },
    }),
    span(),
    status(RunState.IDLE, StopReason.END_TURN),
  );
  return events;
}

function span(): Event {
  return event({
    case: "spanModelRequest",
    value: { model: "claude-bench", attempts: 1, usage: { inputTokens: 900n, outputTokens: 40n } },
  });
}

function status(state: RunState, stopReason = StopReason.UNSPECIFIED): Event {
  return event({ case: "sessionStatus", value: { state, stopReason } });
}
