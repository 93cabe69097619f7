import { RunState, StopReason, ToolConfirmationResult } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { agentText, deltaOf, eventAt } from "../../testing/timeline-events.js";
import { addDelta, addEvents, emptyTimeline, pendingCalls } from "./timeline-state.js";

const user = (seq: number, text: string) => eventAt(seq, { case: "userMessage", value: { text } });

describe("addEvents", () => {
  it("keeps each seq once when a reconnect replays what the timeline holds", () => {
    const first = addEvents(emptyTimeline, [user(1, "a"), user(2, "b"), user(3, "c")]);
    const again = addEvents(first, [user(2, "b"), user(3, "c"), user(4, "d")]);
    expect(again.events.map((e) => e.seq)).toEqual([1n, 2n, 3n, 4n]);
    expect(again.lastSeq).toBe(4n);
    expect(addEvents(again, [user(4, "d")])).toBe(again);
  });

  it("counts the recorded model turns", () => {
    const state = addEvents(emptyTimeline, [user(1, "a"), agentText(2, "x"), agentText(3, "y")]);
    expect(state.turns).toBe(2);
  });
});

describe("live text", () => {
  it("joins the pieces of a turn by block, then gives way to the recorded message", () => {
    let state = addEvents(emptyTimeline, [user(1, "hi")]);
    state = addDelta(state, deltaOf(1, "Hello"));
    state = addDelta(state, deltaOf(1, " there", {}));
    state = addDelta(state, deltaOf(1, "deep", { index: 1, thinking: false }));
    expect(state.live?.blocks.map((b) => b.text)).toEqual(["Hello there", "deep"]);
    state = addEvents(state, [agentText(2, "Hello there")]);
    expect(state.live).toBeUndefined();
    // A piece of that turn arriving after its message is late: shown nowhere.
    expect(addDelta(state, deltaOf(1, " late")).live).toBeUndefined();
  });

  it("starts over when the model request is retried", () => {
    let state = addDelta(emptyTimeline, deltaOf(1, "first try"));
    state = addDelta(state, deltaOf(1, "second", { attempt: 2 }));
    expect(state.live?.blocks.map((b) => b.text)).toEqual(["second"]);
    expect(addDelta(state, deltaOf(1, " stale", { attempt: 1 })).live?.blocks[0]?.text).toBe("second");
  });

  it("counts pieces the harness dropped for a slow reader", () => {
    const state = addDelta(addDelta(emptyTimeline, deltaOf(1, "a")), deltaOf(1, "b"), 7n);
    expect(state.live?.dropped).toBe(7n);
  });

  it("ends when the turn streaming now is stopped, but not for an older turn's stop in a replay", () => {
    const idle = (seq: number) =>
      eventAt(seq, { case: "sessionStatus", value: { state: RunState.IDLE, stopReason: StopReason.INTERRUPTED } });
    // A live reader of turn 3 while the replay is still at turn 1.
    let state = addDelta(emptyTimeline, deltaOf(3, "now"));
    state = addEvents(state, [user(1, "a"), agentText(2, "one"), idle(3)]);
    expect(state.live?.blocks[0]?.text).toBe("now");
    state = addEvents(state, [user(4, "b"), agentText(5, "two"), idle(6)]);
    expect(state.live).toBeUndefined();
  });
});

describe("pendingCalls", () => {
  const toolUse = (seq: number, ids: string[]) =>
    eventAt(seq, {
      case: "agentMessage",
      value: {
        content: ids.map((id) => ({
          block: { case: "toolUse" as const, value: { id, name: "sh", inputJson: `{"command":"echo ${id}"}` } },
        })),
        stopReason: StopReason.TOOL_USE,
      },
    });
  const waiting = (seq: number, ids: string[]) =>
    eventAt(seq, {
      case: "sessionStatus",
      value: { state: RunState.IDLE, stopReason: StopReason.REQUIRES_ACTION, pendingToolUseIds: ids },
    });
  const confirm = (seq: number, id: string) =>
    eventAt(seq, {
      case: "userToolConfirmation",
      value: { toolUseId: id, result: ToolConfirmationResult.ALLOW },
    });

  it("lists the calls the last stop waits for, less those answered since", () => {
    const events = [user(1, "go"), toolUse(2, ["t1", "t2"]), waiting(3, ["t1", "t2"])];
    expect(pendingCalls(events)).toEqual([
      { toolUseId: "t1", name: "sh", inputJson: '{"command":"echo t1"}', kind: "confirm" },
      { toolUseId: "t2", name: "sh", inputJson: '{"command":"echo t2"}', kind: "confirm" },
    ]);
    expect(pendingCalls([...events, confirm(4, "t1")]).map((c) => c.toolUseId)).toEqual(["t2"]);
  });

  it("is empty once the session runs again", () => {
    const running = eventAt(5, { case: "sessionStatus", value: { state: RunState.RUNNING } });
    expect(pendingCalls([user(1, "go"), toolUse(2, ["t1"]), waiting(3, ["t1"]), confirm(4, "t1"), running])).toEqual(
      [],
    );
  });

  it("marks a custom tool's call as the client's to answer", () => {
    const custom = eventAt(3, {
      case: "agentCustomToolUse",
      value: { toolUseId: "c1", name: "lookup", inputJson: "{}" },
    });
    expect(pendingCalls([toolUse(2, ["c1"]), custom, waiting(4, ["c1"])])[0]?.kind).toBe("custom");
  });
});
