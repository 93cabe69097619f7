import { clone } from "@bufbuild/protobuf";
import { type Event, type Session, SessionSchema } from "@reins/proto";
import { emptySummary, foldEvent } from "./summary.js";

/**
 * A replica's copy of one session's log, up to `lastStreamSeq`: every event in
 * seq order (reads and replays are served from here), every event id (for
 * idempotency over the whole log, not just JetStream's dedupe window), and the
 * folded summary. It is a cache: the log is the truth, and a stale copy is
 * detected by the fence or by comparing `lastStreamSeq` with the subject's last
 * message before every read.
 */
export class SessionState {
  /** events[i] has seq i + 1. Only ever appended to. */
  private readonly log: Event[] = [];
  /** Event id -> seq, for every event in the log. */
  private readonly ids = new Map<string, number>();
  private readonly summaryValue: Session;
  /** Stream sequence of the last batch applied. */
  lastStreamSeq = 0;
  /** Encoded size of the batches applied: the cache's memory budget unit. */
  bytes = 0;

  constructor(readonly sessionId: string) {
    this.summaryValue = emptySummary(sessionId);
  }

  get lastSeq(): number {
    return this.log.length;
  }

  /** Id of the `session.created` event (seq 1). */
  get createdEventId(): string {
    return this.log[0]?.id ?? "";
  }

  /**
   * Applies one stored batch. Batches must come in stream order; a batch already
   * applied (several readers can catch up concurrently) is ignored.
   */
  apply(streamSeq: number, events: readonly Event[], size: number): void {
    if (streamSeq <= this.lastStreamSeq) return;
    const first = events[0];
    if (!first) return;
    if (Number(first.seq) !== this.lastSeq + 1) {
      throw new Error(
        `session "${this.sessionId}" log is inconsistent: batch at stream seq ${streamSeq} starts at seq ${first.seq}, expected ${this.lastSeq + 1}`,
      );
    }
    for (const event of events) {
      this.log.push(event);
      this.ids.set(event.id, this.log.length);
      foldEvent(this.summaryValue, event);
    }
    this.lastStreamSeq = streamSeq;
    this.bytes += size;
  }

  /** Seq of an event id in the log, if present. */
  seqOf(eventId: string): number | undefined {
    return this.ids.get(eventId);
  }

  /** The event at a seq (1..lastSeq). */
  at(seq: number): Event | undefined {
    return this.log[seq - 1];
  }

  /** Events with seq in (afterSeq, toSeq], as a new array (the log keeps growing). */
  slice(afterSeq: number, toSeq: number = this.lastSeq): Event[] {
    return this.log.slice(afterSeq, toSeq);
  }

  /** A copy of the summary, safe to hand out. */
  summary(): Session {
    return clone(SessionSchema, this.summaryValue);
  }
}
