import { clone } from "@bufbuild/protobuf";
import { type Event, type Session, SessionSchema } from "@reins/proto";
import { emptySummary, foldEvent } from "./summary.js";

/**
 * What a store replica knows about one session's log, up to `lastStreamSeq`:
 * where each batch sits in the stream (to start reads at any seq), every event
 * id (for idempotency over the whole log, not just JetStream's dedupe window),
 * and the folded summary. It is a cache: the log is the truth, and a stale state
 * is detected by the fence or by comparing `lastStreamSeq` with the subject's
 * last message.
 */
export class SessionState {
  /** Stream sequence of each stored batch, ascending. */
  private readonly streamSeqs: number[] = [];
  /** Session seq of the first event of each batch, parallel to streamSeqs. */
  private readonly firstSeqs: number[] = [];
  /** Event id -> seq, for every event in the log. */
  private readonly ids = new Map<string, number>();
  private readonly summaryValue: Session;
  lastSeq = 0;
  lastStreamSeq = 0;

  constructor(readonly sessionId: string) {
    this.summaryValue = emptySummary(sessionId);
  }

  get eventCount(): number {
    return this.ids.size;
  }

  get batchCount(): number {
    return this.streamSeqs.length;
  }

  /** Id of the `session.created` event (seq 1), once known. */
  createdEventId = "";

  /**
   * Applies one stored batch. Batches must come in stream order; a batch already
   * applied (several readers can catch up concurrently) is ignored.
   */
  apply(streamSeq: number, events: readonly Event[]): void {
    if (streamSeq <= this.lastStreamSeq) return;
    const first = events[0];
    if (!first) return;
    if (Number(first.seq) !== this.lastSeq + 1) {
      throw new Error(
        `session "${this.sessionId}" log is inconsistent: batch at stream seq ${streamSeq} starts at seq ${first.seq}, expected ${this.lastSeq + 1}`,
      );
    }
    this.streamSeqs.push(streamSeq);
    this.firstSeqs.push(Number(first.seq));
    for (const event of events) {
      this.ids.set(event.id, Number(event.seq));
      if (event.seq === 1n) this.createdEventId = event.id;
      foldEvent(this.summaryValue, event);
    }
    this.lastSeq = Number(events[events.length - 1]?.seq ?? this.lastSeq);
    this.lastStreamSeq = streamSeq;
  }

  /** Seq of an event id in the log, if present. */
  seqOf(eventId: string): number | undefined {
    return this.ids.get(eventId);
  }

  /** Index of the batch that holds `seq` (1..lastSeq). */
  batchIndexOf(seq: number): number {
    let lo = 0;
    let hi = this.firstSeqs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.firstSeqs[mid] ?? 0) <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  streamSeqAt(batchIndex: number): number {
    return this.streamSeqs[batchIndex] ?? 0;
  }

  /** Last session seq held by a batch. */
  lastSeqOfBatch(batchIndex: number): number {
    const next = this.firstSeqs[batchIndex + 1];
    return next === undefined ? this.lastSeq : next - 1;
  }

  /** A copy of the summary, safe to hand out. */
  summary(): Session {
    return clone(SessionSchema, this.summaryValue);
  }
}
