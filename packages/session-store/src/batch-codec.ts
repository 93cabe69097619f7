import { createHash } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { type Event, EventBatchSchema, EventSchema } from "@reins/proto";

// One AppendEvents call is stored as ONE JetStream message holding all its
// events. JetStream writes a message atomically, so a batch is either entirely
// in the log or not at all, whatever crashes or fence failures happen; the
// events carry their session seqs, so the stream's own sequence numbers never
// need to be contiguous per session.

// Each event's stored bytes, as the value of a length-delimited field 1 (length
// prefix included). EventBatch, GetEventsResponse and StreamEventsResponse all
// carry events as field 1, so these bytes can be sent to binary clients as they
// are, without encoding the event again. Keyed by identity: only events that came
// out of this codec have one.
const wireForms = new WeakMap<Event, Uint8Array>();

/** The event's stored encoding as a field-1 value (length-prefixed), if known. */
export function wireFormOf(event: Event): Uint8Array | undefined {
  return wireForms.get(event);
}

/** Encodes a batch; `events` become known to wireFormOf. */
export function encodeBatch(events: readonly Event[]): Uint8Array {
  const data = toBinary(EventBatchSchema, { $typeName: "reins.session.v1.EventBatch", events: [...events] });
  split(data, (wire, _inner, i) => {
    const event = events[i];
    if (event) wireForms.set(event, wire);
  });
  return data;
}

/**
 * Decodes a stored batch. The bytes are copied once, so the events' wire forms
 * do not pin a larger buffer they were received in.
 */
export function decodeBatch(received: Uint8Array): Event[] {
  const data = received.slice();
  const events: Event[] = [];
  split(data, (wire, inner) => {
    const event = fromBinary(EventSchema, inner);
    wireForms.set(event, wire);
    events.push(event);
  });
  return events;
}

function split(data: Uint8Array, each: (wire: Uint8Array, inner: Uint8Array, index: number) => void): void {
  const reader = new BinaryReader(data);
  for (let i = 0; reader.pos < reader.len; ) {
    const [no, wireType] = reader.tag();
    if (no !== 1 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, no);
      continue;
    }
    const start = reader.pos;
    const inner = reader.bytes();
    each(data.subarray(start, reader.pos), inner, i++);
  }
}

/**
 * The `Nats-Msg-Id` of a batch: the same session, fence position and event ids
 * give the same id, so a retried publish inside the dedupe window is answered
 * with the original ack instead of being written twice. Hashed to keep the
 * header short whatever the batch size.
 */
export function batchMsgId(sessionId: string, expectedLastSeq: number, eventIds: readonly string[]): string {
  const hash = createHash("sha256").update(sessionId).update("\0").update(String(expectedLastSeq));
  for (const id of eventIds) hash.update("\0").update(id);
  return hash.digest("base64url");
}
