import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Event, EventSchema, type TextDelta, TextDeltaSchema } from "@reins/proto";

type Payload = MessageInitShape<typeof EventSchema>["payload"];

/** An event of the log at `seq` with a payload. */
export function eventAt(seq: number, payload: Payload): Event {
  return create(EventSchema, {
    id: `evt-${seq}`,
    seq: BigInt(seq),
    time: { seconds: 1_796_000_000n + BigInt(seq), nanos: 0 },
    payload,
  });
}

export function deltaOf(turn: number, text: string, extra: Partial<Omit<TextDelta, "$typeName">> = {}): TextDelta {
  return create(TextDeltaSchema, { sessionId: "s1", turn, index: 0, attempt: 1, text, ...extra });
}

export const agentText = (seq: number, text: string): Event =>
  eventAt(seq, {
    case: "agentMessage",
    value: { model: "m", content: [{ block: { case: "text", value: { text } } }], stopReason: 1 },
  });
