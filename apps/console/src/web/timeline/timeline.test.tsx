// @vitest-environment happy-dom
import type { Event } from "@reins/proto";
import { RunState, StopReason, ToolConfirmationResult } from "@reins/proto";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentText, deltaOf, eventAt } from "../../testing/timeline-events.js";
import { collapseLines } from "./long-text.js";
import { Timeline } from "./timeline.js";
import { addDelta, addEvents, emptyTimeline, type TimelineState } from "./timeline-state.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLElement;
let root: Root;

beforeEach(() => {
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

function render(state: TimelineState, targetSeq?: bigint) {
  act(() => root.render(<Timeline state={state} targetSeq={targetSeq} />));
}

const item = (seq: number) => container.querySelector<HTMLElement>(`#seq-${seq}`);

// One event of every kind, with what its view must show.
const everyKind: [Event, string, string[]][] = [
  [
    eventAt(1, {
      case: "sessionCreated",
      value: {
        title: "t",
        tenant: "acme",
        config: { model: "claude-x", tools: ["sh", "read"], limits: { maxTurns: 7 } },
      },
    }),
    "session.created",
    ["claude-x", "sh, read", "acme", "7"],
  ],
  [eventAt(2, { case: "userMessage", value: { text: "please list files" } }), "user.message", ["please list files"]],
  [
    eventAt(3, {
      case: "agentMessage",
      value: {
        content: [
          { block: { case: "thinking", value: { thinking: "let me think" } } },
          { block: { case: "text", value: { text: "Listing them." } } },
          { block: { case: "toolUse", value: { id: "toolu_1", name: "sh", inputJson: "{}" } } },
        ],
        stopReason: StopReason.TOOL_USE,
        usage: { inputTokens: 1200n, outputTokens: 34n },
      },
    }),
    "agent.message",
    ["Listing them.", "let me think", "toolu_1", "tool_use", "1,200 in", "34 out"],
  ],
  [
    eventAt(4, {
      case: "agentToolUseStarted",
      value: { toolUseId: "toolu_1", name: "sh", inputJson: '{"command":"ls"}' },
    }),
    "agent.tool_use_started",
    ["sh", '"command": "ls"'],
  ],
  [
    eventAt(5, {
      case: "agentToolResult",
      value: { toolUseId: "toolu_1", name: "sh", output: "a.txt\nb.txt", exitCode: 2, isError: true },
    }),
    "agent.tool_result",
    ["error", "exit 2", "a.txt\nb.txt"],
  ],
  [
    eventAt(6, {
      case: "spanModelRequest",
      value: { model: "claude-x", costUsd: 0.0123, usage: { inputTokens: 10n, outputTokens: 5n } },
    }),
    "span.model_request",
    ["claude-x", "$0.0123", "10 in"],
  ],
  [
    eventAt(7, { case: "sessionError", value: { message: "model unavailable", kind: "model", retryable: true } }),
    "session.error",
    ["model unavailable", "retryable"],
  ],
  [
    eventAt(8, {
      case: "agentContextCompacted",
      value: { summary: "so far: files listed", firstSeq: 1n, lastSeq: 7n, tokensBefore: 90_000n, tokensAfter: 2_000n },
    }),
    "agent.context_compacted",
    ["#1–#7", "90,000", "2,000", "so far: files listed"],
  ],
  [eventAt(9, { case: "userInterrupt", value: { reason: "enough" } }), "user.interrupt", ["Interrupted: enough"]],
  [
    eventAt(10, {
      case: "sessionStatus",
      value: { state: RunState.IDLE, stopReason: StopReason.REQUIRES_ACTION, pendingToolUseIds: ["toolu_2"] },
    }),
    "session.status",
    ["idle", "requires_action", "toolu_2"],
  ],
  [
    eventAt(11, {
      case: "userToolConfirmation",
      value: { toolUseId: "toolu_2", result: ToolConfirmationResult.DENY, denyMessage: "not that" },
    }),
    "user.tool_confirmation",
    ["denied toolu_2", "not that"],
  ],
  [
    eventAt(12, { case: "agentCustomToolUse", value: { toolUseId: "toolu_3", name: "crm", inputJson: '{"id":1}' } }),
    "agent.custom_tool_use",
    ["crm", "custom tool"],
  ],
  [
    eventAt(13, { case: "userCustomToolResult", value: { toolUseId: "toolu_3", output: "record 1" } }),
    "user.custom_tool_result",
    ["toolu_3", "record 1"],
  ],
  [
    eventAt(14, { case: "sessionPlaced", value: { executorId: "exec-7", reason: "first placement" } }),
    "session.placed",
    ["exec-7", "first placement"],
  ],
];

describe("Timeline", () => {
  it("renders every kind of event, in seq order, each anchored #seq-<n> with its type", () => {
    render(
      addEvents(
        emptyTimeline,
        everyKind.map(([e]) => e),
      ),
    );
    const seqs = [...container.querySelectorAll("li[data-seq]")].map((li) => li.getAttribute("data-seq"));
    expect(seqs).toEqual(everyKind.map(([e]) => String(e.seq)));
    for (const [event, type, texts] of everyKind) {
      const li = item(Number(event.seq));
      expect(li?.getAttribute("data-type"), type).toBe(type);
      expect(li?.querySelector(`a[href="#seq-${event.seq}"]`)).not.toBeNull();
      for (const text of texts) expect(li?.textContent, `${type} shows ${text}`).toContain(text);
    }
  });

  it("collapses a long tool output behind its first lines, and shows a short one whole", () => {
    const long = Array.from({ length: collapseLines + 30 }, (_, i) => `line ${i + 1}`).join("\n");
    const result = (seq: number, output: string) =>
      eventAt(seq, { case: "agentToolResult", value: { toolUseId: `t${seq}`, name: "sh", output } });
    render(addEvents(emptyTimeline, [result(1, long), result(2, "short output")]));
    const details = item(1)?.querySelector("details");
    expect(details).not.toBeNull();
    expect(details?.open).toBe(false);
    expect(details?.querySelector("summary")?.textContent).toContain(`${collapseLines + 30} lines`);
    expect(details?.querySelector("summary")?.textContent).not.toContain("line 42");
    expect(item(2)?.querySelector("details")).toBeNull();
    expect(item(2)?.textContent).toContain("short output");
  });

  it("shows live text after the last event, then the recorded message in its place, once", () => {
    let state = addEvents(emptyTimeline, [eventAt(1, { case: "userMessage", value: { text: "hi" } })]);
    state = addDelta(state, deltaOf(1, "Hel"));
    state = addDelta(state, deltaOf(1, "lo wor"));
    render(state);
    const live = () => container.querySelector('[data-testid="live-text"]');
    expect(live()?.textContent).toContain("Hello wor");
    expect(container.querySelector("ol")?.lastElementChild).toBe(live());

    state = addEvents(state, [agentText(2, "Hello world")]);
    state = addDelta(state, deltaOf(1, "ld"));
    render(state);
    expect(live()).toBeNull();
    const shown = [...container.querySelectorAll(".message.agent")].map((p) => p.textContent);
    expect(shown).toEqual(["Hello world"]);
  });

  it("highlights the event a deep link points at", () => {
    render(addEvents(emptyTimeline, [agentText(1, "one"), agentText(2, "two"), agentText(3, "three")]), 2n);
    expect(item(2)?.classList.contains("targeted")).toBe(true);
    expect(container.querySelectorAll(".targeted")).toHaveLength(1);
  });
});
