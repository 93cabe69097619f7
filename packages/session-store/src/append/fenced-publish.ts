import { randomUUID } from "node:crypto";
import { InvalidRequestError, JsErrCode, jsErrorCode } from "../errors.js";
import type { StoredBatch } from "../log/index.js";
import { headOf } from "../log/index.js";
import type { StoreContext } from "../store-context.js";

export type PublishOutcome =
  /** Written now at this stream sequence. */
  | { readonly kind: "written"; readonly streamSeq: number; readonly size: number }
  /** JetStream's dedupe window already holds this batch: the original. */
  | { readonly kind: "duplicate"; readonly batch: StoredBatch }
  /** The subject's last message is not the one expected: nothing written. */
  | { readonly kind: "fenced" };

/**
 * Publishes one batch with `Nats-Expected-Last-Subject-Sequence` (the fence) and
 * `Nats-Msg-Id` (dedupe inside the window). JetStream checks the msg id before
 * the fence, so a retry of a write whose ack was lost is answered with the
 * original even though the fence has moved.
 */
export async function fencedPublish(
  ctx: StoreContext,
  subject: string,
  data: Uint8Array,
  msgId: string,
  expectedStreamSeq: number,
  eventIds: readonly string[],
): Promise<PublishOutcome> {
  const limit = ctx.maxBatchBytes();
  if (data.length > limit) {
    throw new InvalidRequestError(
      `batch encodes to ${data.length} bytes, over the limit of ${limit} bytes: split it into smaller appends`,
    );
  }
  for (let attempt = 0; ; attempt++) {
    let ack: Awaited<ReturnType<typeof ctx.conn.js.publish>>;
    const sent = performance.now();
    try {
      ack = await ctx.conn.js.publish(subject, data, {
        // A dedupe entry can outlive its message (the session was deleted and
        // created again inside the window); a salted id then writes for real.
        msgID: attempt === 0 ? msgId : `${msgId}.${randomUUID()}`,
        expect: { lastSubjectSequence: expectedStreamSeq },
      });
    } catch (err) {
      if (jsErrorCode(err) === JsErrCode.wrongLastSequence) {
        ctx.metrics.natsRoundTrip((performance.now() - sent) / 1000);
        return { kind: "fenced" };
      }
      throw err;
    }
    ctx.metrics.natsRoundTrip((performance.now() - sent) / 1000);
    if (!ack.duplicate) return { kind: "written", streamSeq: ack.seq, size: data.length };
    const original = await ctx.reader.at(subject, ack.seq);
    const sameIds =
      original !== undefined &&
      original.wire.length === eventIds.length &&
      original.wire.every((wire, i) => headOf(wire).id === eventIds[i]);
    if (sameIds) return { kind: "duplicate", batch: original };
    if (attempt >= 1) throw new Error(`publish to ${subject} was deduplicated against a batch that is not there`);
  }
}
