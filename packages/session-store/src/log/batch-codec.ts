import { createHash } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  AgentToolUseStartedSchema,
  type Event,
  EventBatchSchema,
  EventSchema,
  type EventType,
  eventTypeOf,
} from "@reins/proto";

// One AppendEvents call is stored as ONE JetStream message holding all its
// events. JetStream writes a message atomically, so a batch is either entirely
// in the log or not at all, whatever crashes or fence failures happen; the
// events carry their session seqs, so the stream's own sequence numbers never
// need to be contiguous per session.
//
// Events are kept in their stored bytes ("wire form": the value of a
// length-delimited field 1, length prefix included). EventBatch,
// GetEventsResponse and StreamEventsResponse all carry events as field 1, so the
// bytes go to binary clients as they are; and a replica reading a log only
// looks at each event's id, seq and kind, decoding an event fully when someone
// needs the object. Decoding is most of the CPU cost of reading a long log.

const wireForms = new WeakMap<Event, Uint8Array>();

/** The event's stored encoding as a field-1 value (length-prefixed), if known. */
export function wireFormOf(event: Event): Uint8Array | undefined {
  return wireForms.get(event);
}

/** What the store needs of an event without decoding it. */
export interface EventHead {
  readonly id: string;
  readonly seq: number;
  readonly type: EventType;
  /** The `time` field's bytes (a Timestamp), if set. */
  readonly time: Uint8Array | undefined;
  /** The tool_use id of an `agent.tool_use_started` intent (read from its payload). */
  readonly toolUseId?: string;
}

// Payload field number -> EventType, from the schema (one oneof: `payload`).
const typeByField = new Map<number, EventType>(
  EventSchema.oneofs[0]?.fields.map((f) => [
    f.number,
    eventTypeOf({ payload: { case: f.localName, value: {} } } as unknown as Event),
  ]) ?? [],
);
const idField = EventSchema.field.id?.number ?? 1;
const seqField = EventSchema.field.seq?.number ?? 2;
const timeField = EventSchema.field.time?.number ?? 3;
const intentField = EventSchema.field.agentToolUseStarted?.number ?? 14;
const intentToolUseIdField = AgentToolUseStartedSchema.field.toolUseId?.number ?? 1;

/** Encodes a batch; `events` become known to wireFormOf. */
export function encodeBatch(events: readonly Event[]): Uint8Array {
  const data = toBinary(EventBatchSchema, { $typeName: "reins.session.v1.EventBatch", events: [...events] });
  const wire = splitBatch(data);
  events.forEach((event, i) => {
    const w = wire[i];
    if (w) wireForms.set(event, w);
  });
  return data;
}

// Reading a log means looking at every event's id, seq and kind. A hand-rolled
// scan of the few varints involved avoids creating protobuf readers (each with
// its DataView) per event, which dominated the cost of loading a long log.
const utf8 = new TextDecoder();

function varint(buf: Uint8Array, at: { pos: number }): number {
  let result = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[at.pos++];
    if (byte === undefined) throw new Error("truncated varint in stored batch");
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result;
    scale *= 128;
  }
}

function skipField(buf: Uint8Array, at: { pos: number }, wireType: number): void {
  if (wireType === WireType.Varint) varint(buf, at);
  else if (wireType === WireType.Bit64) at.pos += 8;
  else if (wireType === WireType.LengthDelimited) {
    const len = varint(buf, at);
    at.pos += len;
  } else if (wireType === WireType.Bit32) at.pos += 4;
  else throw new Error(`unsupported wire type ${wireType} in stored batch`);
}

/** The wire forms of a stored batch's events, as views into `data`. */
export function splitBatch(data: Uint8Array): Uint8Array[] {
  const at = { pos: 0 };
  const wire: Uint8Array[] = [];
  while (at.pos < data.length) {
    const tag = varint(data, at);
    const start = at.pos;
    skipField(data, at, tag & 7);
    if (tag === ((1 << 3) | WireType.LengthDelimited)) wire.push(data.subarray(start, at.pos));
  }
  return wire;
}

/**
 * Splits a received batch into wire forms. The bytes are copied once, so they do
 * not pin the larger buffer they arrived in.
 */
export function receiveBatch(received: Uint8Array): Uint8Array[] {
  return splitBatch(received.slice());
}

/** Decodes one event from its wire form (and remembers the form). */
export function decodeWire(wire: Uint8Array): Event {
  const event = fromBinary(EventSchema, new BinaryReader(wire).bytes());
  wireForms.set(event, wire);
  return event;
}

/** Decodes every event of a received batch. */
export function decodeBatch(received: Uint8Array): Event[] {
  return receiveBatch(received).map(decodeWire);
}

/** Reads an event's id, seq, kind and time bytes, skipping its payload (but an intent's tool_use id). */
export function headOf(wire: Uint8Array): EventHead {
  const at = { pos: 0 };
  const len = varint(wire, at);
  const end = at.pos + len;
  let id = "";
  let seq = 0;
  let type = 0 as EventType;
  let time: Uint8Array | undefined;
  let toolUseId: string | undefined;
  while (at.pos < end) {
    const tag = varint(wire, at);
    const no = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (no === idField || no === timeField) {
      const len = varint(wire, at);
      const bytes = wire.subarray(at.pos, at.pos + len);
      at.pos += len;
      if (no === idField) id = utf8.decode(bytes);
      else time = bytes;
    } else if (no === seqField) {
      seq = varint(wire, at);
    } else if (no === intentField && wireType === WireType.LengthDelimited) {
      type = typeByField.get(no) ?? type;
      const len = varint(wire, at);
      toolUseId = fieldString(wire, at.pos, at.pos + len, intentToolUseIdField);
      at.pos += len;
    } else {
      type = typeByField.get(no) ?? type;
      skipField(wire, at, wireType);
    }
  }
  return toolUseId === undefined ? { id, seq, type, time } : { id, seq, type, time, toolUseId };
}

/** The string field `no` of the message in `wire[start, end)`, "" when absent. */
function fieldString(wire: Uint8Array, start: number, end: number, no: number): string {
  const at = { pos: start };
  let value = "";
  while (at.pos < end) {
    const tag = varint(wire, at);
    if (tag === ((no << 3) | WireType.LengthDelimited)) {
      const len = varint(wire, at);
      value = utf8.decode(wire.subarray(at.pos, at.pos + len));
      at.pos += len;
    } else skipField(wire, at, tag & 7);
  }
  return value;
}

export function decodeTimestamp(bytes: Uint8Array): Timestamp {
  return fromBinary(TimestampSchema, bytes);
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
