import { createHash } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Event, EventBatchSchema } from "@reins/proto";

// One AppendEvents call is stored as ONE JetStream message holding all its
// events. JetStream writes a message atomically, so a batch is either entirely
// in the log or not at all, whatever crashes or fence failures happen; the
// events carry their session seqs, so the stream's own sequence numbers never
// need to be contiguous per session.

export function encodeBatch(events: readonly Event[]): Uint8Array {
  return toBinary(EventBatchSchema, { $typeName: "reins.session.v1.EventBatch", events: [...events] });
}

export function decodeBatch(data: Uint8Array): Event[] {
  return fromBinary(EventBatchSchema, data).events;
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
