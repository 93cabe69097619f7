import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { EventSchema, RunState, StopReason, TextDeltaSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createRunOrder, type RunItem } from "./run-order.js";

let seq = 0;
const ev = (payload: MessageInitShape<typeof EventSchema>["payload"]): RunItem => ({
  case: "event",
  value: create(EventSchema, { id: `e${++seq}`, seq: BigInt(seq), payload }),
});
const delta = (turn: number, text: string): RunItem => ({
  case: "delta",
  value: create(TextDeltaSchema, { sessionId: "s", turn, text, attempt: 1 }),
});
const created = () => ev({ case: "sessionCreated", value: { config: { model: "m" } } });
const user = (text: string) => ev({ case: "userMessage", value: { text } });
const running = () => ev({ case: "sessionStatus", value: { state: RunState.RUNNING } });
const message = (...toolIds: string[]) =>
  ev({
    case: "agentMessage",
    value: {
      stopReason: toolIds.length ? StopReason.TOOL_USE : StopReason.END_TURN,
      content: toolIds.map((id) => ({
        block: { case: "toolUse" as const, value: { id, name: "bash", inputJson: "{}" } },
      })),
    },
  });
const result = (id: string) => ev({ case: "agentToolResult", value: { toolUseId: id, name: "bash", output: "ok" } });

function label(item: RunItem): string {
  if (item.case === "delta") return `delta${item.value.turn}:${item.value.text}`;
  const p = item.value.payload;
  if (p.case === "agentToolResult") return `result:${p.value.toolUseId}`;
  return p.case ?? "?";
}

function run(items: RunItem[], keepLate = false): string[] {
  const out: string[] = [];
  const order = createRunOrder((item) => out.push(label(item)), { keepLate });
  for (const item of items) order.push(item);
  order.end();
  return out;
}

describe("run order", () => {
  it("holds text that overtakes the user message until the message is shown", () => {
    expect(run([delta(1, "Hel"), created(), delta(1, "lo"), user("hi"), running(), message()])).toEqual([
      "sessionCreated",
      "userMessage",
      "delta1:Hel",
      "delta1:lo",
      "sessionStatus",
      "agentMessage",
    ]);
  });

  it("holds the next turn's text until every tool result of the previous turn is shown", () => {
    const items = [
      created(),
      user("go"),
      delta(1, "a"),
      message("t1", "t2"),
      delta(2, "b"),
      result("t1"),
      result("t2"),
    ];
    expect(run(items)).toEqual([
      "sessionCreated",
      "userMessage",
      "delta1:a",
      "agentMessage",
      "result:t1",
      "result:t2",
      "delta2:b",
    ]);
  });

  it("drops text that arrives after its message (the message carried it), unless keeping late text", () => {
    const items = [created(), user("go"), message(), delta(1, "late")];
    expect(run(items)).toEqual(["sessionCreated", "userMessage", "agentMessage"]);
    expect(run(items, true)).toEqual(["sessionCreated", "userMessage", "agentMessage", "delta1:late"]);
  });

  it("text held when its message arrives goes out before the message only when keeping late text", () => {
    const items = [delta(1, "x"), created(), message()];
    expect(run(items)).toEqual(["sessionCreated", "agentMessage"]);
    expect(run(items, true)).toEqual(["sessionCreated", "delta1:x", "agentMessage"]);
  });

  it("a continued session waits for the new user message", () => {
    const items = [created(), user("one"), message(), delta(2, "two"), user("again")];
    expect(run(items)).toEqual(["sessionCreated", "userMessage", "agentMessage", "userMessage", "delta2:two"]);
  });
});
