import { clone } from "@bufbuild/protobuf";
import { type Session, SessionSchema } from "@reins/proto";
import {
  decodeTimestamp,
  decodeWire,
  firstSeqOf,
  foldEvent,
  foldedTypes,
  headOf,
  lastSeqOf,
  noteLatest,
  type SessionState,
  type StoredBatch,
} from "../log/index.js";
import type { StoreContext } from "../store-context.js";

/** A session's summary as of the log's end, and what it was read from. */
export type CurrentSummary =
  /** From the index: `last` is the subject's last batch, read to check the entry. */
  | { readonly summary: Session; readonly last: StoredBatch; readonly state?: undefined }
  /** From this replica's copy of the log (cached, or loaded because the index could not say). */
  | { readonly summary: Session; readonly state: SessionState; readonly last?: undefined };

// An entry from before latest_events were indexed has none (every log has its
// session.created), and one from before log_bytes has 0: neither can be caught up.
const usable = (s: Session) => s.logBytes > 0n && s.latestEvents.length > 0;

/**
 * The session's summary (state, totals, latest event of each type) without
 * folding the log from seq 1, whenever the index allows it:
 *
 * - this replica has the log cached: its copy, brought to the log's end;
 * - the index entry is at the log's end (one direct get says so): the entry;
 * - the entry lags the log, because the index write of the last appends was lost
 *   (a crash between append and index write, or a lazy write not yet run): the
 *   batches after it are found by seeking, folded into it and written back. That
 *   read is bounded by what the lost writes covered, at most a lazy delay of
 *   appends, so the index heals itself on the next read instead of the append
 *   path having to make the two writes atomic (NATS has no such transaction);
 * - no usable entry (missing, ahead of the log: another incarnation, or written
 *   by an older version): the whole log is loaded once and the entry repaired.
 *
 * Undefined when the session has no log.
 */
export async function currentSummary(ctx: StoreContext, sessionId: string): Promise<CurrentSummary | undefined> {
  if (!ctx.cache.peek(sessionId)) {
    // A replica just started has its mirror of the index filled once.
    await ctx.index.initialized;
    const last = await ctx.reader.last(ctx.subjectOf(sessionId));
    const indexed = ctx.index.get(sessionId);
    if (!last) {
      if (indexed) await ctx.index.remove(sessionId); // a delete that died half-way
      return undefined;
    }
    if (indexed && usable(indexed)) {
      if (indexed.lastSeq === BigInt(lastSeqOf(last)) && describes(indexed, last)) return { summary: indexed, last };
      const caughtUp =
        indexed.lastSeq < BigInt(lastSeqOf(last)) ? await catchUp(ctx, sessionId, indexed, last) : undefined;
      if (caughtUp) {
        ctx.index.write(sessionId, () => caughtUp, true);
        return { summary: clone(SessionSchema, caughtUp), last };
      }
    }
  }
  const state = await ctx.cache.load(sessionId);
  if (!state) return undefined;
  const indexed = ctx.index.get(sessionId);
  if (!indexed || indexed.lastSeq < BigInt(state.lastSeq) || !usable(indexed)) {
    ctx.index.write(sessionId, () => state.summary(), true);
  }
  return { summary: state.summary(), state };
}

/**
 * The index entry folded forward over the batches after it, up to `last`; or
 * undefined when the log is not the one the entry describes (deleted and
 * created again since). Index entries are written at batch boundaries: the
 * entry's last event ends a batch, and the batches after it are what it lacks.
 */
async function catchUp(
  ctx: StoreContext,
  sessionId: string,
  indexed: Session,
  last: StoredBatch,
): Promise<Session | undefined> {
  const subject = ctx.subjectOf(sessionId);
  const at = await ctx.reader.seek(subject, Number(indexed.lastSeq), last);
  if (!at || !describes(indexed, at)) return undefined;
  const next = await ctx.reader.firstFrom(subject, at.streamSeq + 1);
  const summary = clone(SessionSchema, indexed);
  if (!next || next.streamSeq > last.streamSeq || !foldBatch(summary, next)) return undefined;
  if (next.streamSeq < last.streamSeq) {
    let continues = true;
    await ctx.reader.scan(subject, next.streamSeq + 1, (batch) => {
      if (batch.streamSeq > last.streamSeq) return false;
      continues = foldBatch(summary, batch);
      return continues && batch.streamSeq < last.streamSeq;
    });
    if (!continues) return undefined;
  }
  return summary.lastSeq === BigInt(lastSeqOf(last)) ? summary : undefined;
}

/**
 * Whether an index entry was folded up to the end of this batch of the same
 * log: the batch ends at the entry's last seq with the entry's update time. A
 * log deleted and created again (maybe by another tenant) under the same id
 * can reach the same seq, but not at the same instant, so its batches never
 * pass for the entry's, and the entry's tenant is never taken for theirs.
 */
function describes(indexed: Session, batch: StoredBatch): boolean {
  const wire = batch.wire[batch.wire.length - 1];
  if (!wire || indexed.updateTime === undefined) return false;
  const head = headOf(wire);
  if (head.seq !== Number(indexed.lastSeq) || !head.time) return false;
  const time = decodeTimestamp(head.time);
  return time.seconds === indexed.updateTime.seconds && time.nanos === indexed.updateTime.nanos;
}

/**
 * Folds one stored batch into a summary exactly as SessionState.apply does
 * (decoding only the kinds the summary is folded from); false, folding nothing,
 * when the batch does not start right after the summary's last seq.
 */
function foldBatch(summary: Session, batch: StoredBatch): boolean {
  if (firstSeqOf(batch) !== Number(summary.lastSeq) + 1) return false;
  for (const wire of batch.wire) {
    const head = headOf(wire);
    if (foldedTypes.has(head.type)) foldEvent(summary, decodeWire(wire));
    else {
      summary.lastSeq = BigInt(head.seq);
      if (head.time) summary.updateTime = decodeTimestamp(head.time);
    }
    noteLatest(summary, head.type, head.seq);
  }
  summary.logBytes += BigInt(batch.size);
  return true;
}
