import type { Event, EventType } from "@reins/proto";
import { SessionNotFoundError } from "../errors.js";
import { decodeWire, firstSeqOf, headOf, latestSeqIn, type SessionState, visibleTo } from "../log/index.js";
import { currentSummary } from "../session-index/index.js";
import type { StoreContext } from "../store-context.js";
import { checkEventType, checkSessionId } from "../validate.js";

export interface LatestEventResult {
  /** The latest event of the type; undefined when the log has none. */
  readonly event: Event | undefined;
  /** The log's last seq at the time of the read. */
  readonly lastSeq: number;
}

const fromState = (state: SessionState, type: EventType): LatestEventResult => {
  const seq = state.latestOf(type);
  return { event: seq === undefined ? undefined : state.at(seq), lastSeq: state.lastSeq };
};

/**
 * The latest event of one type, the checkpoint a wake starts from. Where the
 * session is cached it is a lookup in the copy (after the usual direct get that
 * brings it to the log's end). Elsewhere the index says which seq it is (caught
 * up over a lost index write by a bounded read, see session-index/current-summary.ts), and
 * the batch holding that seq is found by seeking: the reads are bounded by the
 * stream's length in log2, never by the session's log.
 */
export async function getLatestEvent(
  ctx: StoreContext,
  sessionId: string,
  type: EventType,
  tenant: string | undefined,
): Promise<LatestEventResult> {
  checkSessionId(sessionId);
  checkEventType(type);
  ctx.conn.assertReady();

  const current = await currentSummary(ctx, sessionId);
  if (!current || (tenant !== undefined && current.summary.tenant !== tenant)) {
    throw new SessionNotFoundError(sessionId);
  }
  if (current.state) return fromState(current.state, type);
  const lastSeq = Number(current.summary.lastSeq);
  const seq = latestSeqIn(current.summary, type);
  if (seq === undefined) return { event: undefined, lastSeq };
  const batch = await ctx.reader.seek(ctx.subjectOf(sessionId), seq, current.last);
  const wire = batch ? batch.wire[seq - firstSeqOf(batch)] : undefined;
  const head = wire && headOf(wire);
  if (wire && head?.seq === seq && head.type === type) return { event: decodeWire(wire), lastSeq };
  // The log is not the one the index describes (deleted and created again
  // meanwhile): decide on the log itself.
  const state = await ctx.cache.load(sessionId);
  if (!visibleTo(state, tenant)) throw new SessionNotFoundError(sessionId);
  return fromState(state, type);
}
