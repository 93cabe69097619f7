import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Event, EventBatchSchema, EventSchema, eventTypeOf, GetEventsResponseSchema } from "@reins/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTimestamp, decodeWire, encodeBatch, headOf, receiveBatch, wireFormOf } from "./batch-codec.js";

const event = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/),
    seq: fc.bigInt({ min: 1n, max: 2n ** 50n }),
    ms: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    text: fc.string({ maxLength: 3000 }),
    kind: fc.constantFrom("userMessage", "sessionStatus", "spanModelRequest", "sessionError", "agentToolUseStarted"),
  })
  .map(({ id, seq, ms, text, kind }): Event => {
    const payload =
      kind === "userMessage"
        ? { case: "userMessage" as const, value: { text } }
        : kind === "sessionStatus"
          ? { case: "sessionStatus" as const, value: { state: 2, detail: text } }
          : kind === "spanModelRequest"
            ? { case: "spanModelRequest" as const, value: { model: text, costUsd: 0.5, usage: { inputTokens: 7n } } }
            : kind === "sessionError"
              ? { case: "sessionError" as const, value: { message: text } }
              : { case: "agentToolUseStarted" as const, value: { name: "sh", toolUseId: text, inputJson: "{}" } };
    return create(EventSchema, { id, seq, time: timestampFromMs(ms), payload });
  });

describe("batch codec", () => {
  it("splits stored batches into events whose heads and decodings match the originals", () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 20 }), (events) => {
        const data = encodeBatch(events);
        expect(fromBinary(EventBatchSchema, data).events).toEqual(events);
        const wire = receiveBatch(data);
        expect(wire).toHaveLength(events.length);
        wire.forEach((w, i) => {
          const original = events[i] as Event;
          expect(headOf(w)).toMatchObject({ id: original.id, seq: Number(original.seq), type: eventTypeOf(original) });
          // An intent's tool_use id is read without decoding the event, as the duplicate check needs it.
          const intent = original.payload.case === "agentToolUseStarted" ? original.payload.value.toolUseId : undefined;
          expect(headOf(w).toolUseId).toBe(intent);
          expect(decodeTimestamp(headOf(w).time as Uint8Array)).toEqual(original.time);
          expect(decodeWire(w)).toEqual(original);
          expect(wireFormOf(original)).toEqual(w);
        });
      }),
    );
  });

  it("wire forms spliced as field 1 make a valid GetEventsResponse", () => {
    const events = [1, 2, 3].map((i) =>
      create(EventSchema, { id: `e${i}`, seq: BigInt(i), payload: { case: "userMessage", value: { text: "x" } } }),
    );
    const response = create(GetEventsResponseSchema, { nextAfterSeq: 3n, lastSeq: 3n });
    response.$unknown = receiveBatch(encodeBatch(events)).map((data) => ({ no: 1, wireType: 2, data }));
    const decoded = fromBinary(GetEventsResponseSchema, toBinary(GetEventsResponseSchema, response));
    expect(decoded.events).toEqual(events);
    expect(decoded.lastSeq).toBe(3n);
  });
});
