import { Writable } from "node:stream";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Event, EventSchema, RunState, SessionSchema, StopReason, TextDeltaSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createTerminal } from "../terminal.js";
import { exitCodeFor } from "../watch-run.js";
import { createRunView } from "./run-view.js";

function capture() {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

let seq = 0;
const event = (payload: MessageInitShape<typeof EventSchema>["payload"]): Event =>
  create(EventSchema, { id: `e${++seq}`, seq: BigInt(seq), payload });
const delta = (text: string, thinking = false, attempt = 1) =>
  create(TextDeltaSchema, { sessionId: "s1", turn: 1, index: 0, text, thinking, attempt });

function setup(env: NodeJS.ProcessEnv = {}) {
  const out = capture();
  const err = capture();
  const terminal = createTerminal(out.stream, err.stream, env);
  return { view: createRunView(terminal, { outputLines: 4 }), out };
}

describe("run view", () => {
  it("streams text, shows tool calls with input, results, and a closing line with usage and cost", () => {
    const { view, out } = setup();
    view.event(event({ case: "sessionCreated", value: { config: { model: "claude-x", tools: ["bash"] } } }));
    view.event(event({ case: "userMessage", value: { text: "print primes" } }));
    view.event(event({ case: "sessionStatus", value: { state: RunState.RUNNING } }));
    view.delta(delta("Let me "));
    view.delta(delta("write it."));
    view.event(
      event({
        case: "agentMessage",
        value: {
          stopReason: StopReason.TOOL_USE,
          content: [
            { block: { case: "text", value: { text: "Let me write it." } } },
            { block: { case: "toolUse", value: { id: "t1", name: "bash", inputJson: '{"command":"python3 p.py"}' } } },
          ],
        },
      }),
    );
    view.event(
      event({
        case: "agentToolUseStarted",
        value: { toolUseId: "t1", name: "bash", inputJson: '{"command":"python3 p.py"}' },
      }),
    );
    view.event(
      event({
        case: "agentToolResult",
        value: { toolUseId: "t1", name: "bash", output: "2 3 5 7 11 13 17 19 23 29\n", duration: durationFromMs(420) },
      }),
    );
    view.event(event({ case: "spanModelRequest", value: { attempts: 2 } }));
    view.delta(delta("The primes are 2..29."));
    view.event(event({ case: "agentMessage", value: { stopReason: StopReason.END_TURN, content: [] } }));
    view.event(event({ case: "sessionStatus", value: { state: RunState.IDLE, stopReason: StopReason.END_TURN } }));
    view.finish({
      sessionId: "s1",
      state: RunState.IDLE,
      stopReason: StopReason.END_TURN,
      elapsedMs: 3400,
      session: create(SessionSchema, {
        sessionId: "s1",
        modelRequests: 2,
        usage: { inputTokens: 2000n, outputTokens: 150n },
        costUsd: 0.0123,
      }),
    });
    expect(out.text()).toBe(
      [
        "● claude-x · bash",
        "› print primes",
        "Let me write it.",
        "⏺ bash  python3 p.py",
        "  ✔ bash · ok · exit 0 · 420ms",
        "  │ 2 3 5 7 11 13 17 19 23 29",
        "! model request needed 2 attempts",
        "The primes are 2..29.",
        "",
        "✔ end_turn · 2 model requests · 2,000 in · 150 out · $0.01 · 3.4s",
        "session s1 · reins events s1",
        "",
      ].join("\n"),
    );
    expect(out.text()).not.toContain("\x1b[");
  });

  it("prints a message's text when no live text arrived, and marks thinking apart from text", () => {
    const { view, out } = setup();
    view.delta(delta("pondering", true));
    view.event(
      event({
        case: "agentMessage",
        value: { stopReason: StopReason.END_TURN, content: [{ block: { case: "text", value: { text: "Done." } } }] },
      }),
    );
    view.event(event({ case: "sessionError", value: { kind: "model_unavailable", message: "529" } }));
    view.event(event({ case: "userInterrupt", value: { reason: "stop" } }));
    expect(out.text()).toBe("pondering\nDone.\n✖ model_unavailable: 529\n■ interrupted: stop\n");
  });

  it("shows a compaction as one line, tokens before -> after", () => {
    const { view, out } = setup();
    view.event(
      event({
        case: "agentContextCompacted",
        value: {
          summary: "s",
          firstSeq: 1n,
          lastSeq: 290n,
          tokensBefore: 48210n,
          tokensAfter: 9120n,
          toolResultsCleared: 3,
        },
      }),
    );
    expect(out.text()).toBe(
      "↻ context compacted: 48,210 -> 9,120 tokens (summary of events 1..290, 3 tool results cleared)\n",
    );
  });

  it("shows multi-line code input as lines under the call, shortened like output", () => {
    const { view, out } = setup();
    const code = Array.from({ length: 10 }, (_, i) => `print(${i})`).join("\n");
    view.event(
      event({
        case: "agentToolUseStarted",
        value: { toolUseId: "t", name: "python", inputJson: JSON.stringify({ code }) },
      }),
    );
    expect(out.text()).toBe(
      ["⏺ python", "  ┆ print(0)", "  ┆ print(1)", "  ┆ … 7 more lines …", "  ┆ print(9)", ""].join("\n"),
    );
  });

  it("says so when a retried model request restarts its text", () => {
    const { view, out } = setup();
    view.delta(delta("The ans"));
    view.delta(delta("The answer is 42.", false, 2));
    expect(out.text()).toBe(
      "The ans\n↻ the model request was retried (attempt 2); its answer starts again:\nThe answer is 42.",
    );
  });

  it("uses colour when forced, never when NO_COLOR is set", () => {
    const forced = setup({ FORCE_COLOR: "1" });
    forced.view.event(event({ case: "userMessage", value: { text: "hi" } }));
    expect(forced.out.text()).toContain("\x1b[");
    const off = setup({ FORCE_COLOR: "1", NO_COLOR: "1" });
    off.view.event(event({ case: "userMessage", value: { text: "hi" } }));
    expect(off.out.text()).not.toContain("\x1b[");
  });
});

describe("run exit codes", () => {
  it("0 on end_turn, 130 when interrupted, 1 on errors, limits or a run that never settled", () => {
    expect(exitCodeFor(RunState.IDLE, StopReason.END_TURN, false)).toBe(0);
    expect(exitCodeFor(RunState.IDLE, StopReason.INTERRUPTED, false)).toBe(130);
    expect(exitCodeFor(RunState.IDLE, StopReason.END_TURN, true)).toBe(130);
    expect(exitCodeFor(RunState.TERMINATED, StopReason.ERROR, false)).toBe(1);
    expect(exitCodeFor(RunState.IDLE, StopReason.MAX_TURNS, false)).toBe(1);
    expect(exitCodeFor(RunState.TERMINATED, StopReason.BUDGET_REACHED, false)).toBe(1);
    expect(exitCodeFor(RunState.RUNNING, StopReason.UNSPECIFIED, false)).toBe(1);
  });
});
