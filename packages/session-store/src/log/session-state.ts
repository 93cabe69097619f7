import { clone } from "@bufbuild/protobuf";
import { type Event, EventType, eventTypeOf, type Session, SessionSchema } from "@reins/proto";
import { decodeTimestamp, decodeWire, type EventHead, headOf } from "./batch-codec.js";
import { emptySummary, foldEvent, latestSeqIn, noteLatest } from "./summary.js";

/** One stored batch: its stream sequence, encoded size and events' wire forms. */
export interface StoredBatch {
  readonly streamSeq: number;
  readonly size: number;
  readonly wire: readonly Uint8Array[];
  /** The decoded events, when the caller already has them (its own appends). */
  readonly events?: readonly Event[];
}

/** Seq of a batch's first event. */
export const firstSeqOf = (batch: StoredBatch): number =>
  batch.events?.[0] ? Number(batch.events[0].seq) : batch.wire[0] ? headOf(batch.wire[0]).seq : 0;

/** Seq of a batch's last event. */
export const lastSeqOf = (batch: StoredBatch): number => firstSeqOf(batch) + batch.wire.length - 1;

// Estimates of the heap a copy holds, per event, measured with protobuf-es 2
// on Node 20: the wire form's view, its id string and its index entries take
// about 200 bytes besides the stored bytes; a decoded event about 230 bytes of
// objects plus its strings, which are up to twice their UTF-8 size (two-byte
// strings). Counting only the stored bytes undercounted short events eightfold.
const storedEventOverhead = 200;
const decodedEventBytes = (wire: Uint8Array) => 256 + 2 * wire.length;

// Kinds the summary is folded from; every other event only moves last_seq,
// update_time and its type's latest seq, which the event's head is enough for.
export const foldedTypes = new Set([EventType.SESSION_CREATED, EventType.SESSION_STATUS, EventType.SPAN_MODEL_REQUEST]);

/**
 * A replica's copy of one session's log, up to `lastStreamSeq`: every event in
 * seq order, as stored bytes and (once someone needed it) decoded; every event
 * id (for idempotency over the whole log, not just JetStream's dedupe window);
 * and the folded summary. It is a cache: the log is the truth, and a stale copy
 * is detected by the fence or by comparing `lastStreamSeq` with the subject's
 * last message before every read.
 */
export class SessionState {
  /** wire[i] is the event with seq i + 1. All arrays only ever grow. */
  private readonly wire: Uint8Array[] = [];
  private readonly decoded: (Event | undefined)[] = [];
  private readonly types: EventType[] = [];
  /** Event id -> seq, for every event in the log. */
  private readonly ids = new Map<string, number>();
  /**
   * tool_use id -> seq of its `agent.tool_use_started`, for every intent in the
   * log: read from each event's head as it is applied, so checking a new intent
   * against the whole log is one lookup, never a scan.
   */
  private readonly intents = new Map<string, number>();
  private readonly summaryValue: Session;
  /** Stream sequence of the last batch applied. */
  lastStreamSeq = 0;
  /**
   * Encoded size of the batches applied: (as the whole log is always applied)
   * the size the log limit is checked on.
   */
  bytes = 0;
  /**
   * Estimated heap this copy holds: stored bytes, per-event bookkeeping and
   * the events decoded so far. The cache's memory budget unit.
   */
  memoryBytes = 0;
  /** Told of every change of memoryBytes, so a cache's total follows lazy decoding too. */
  onMemoryChange: ((delta: number) => void) | undefined;
  /** Time bytes of the last event, when it was not folded (decoded lazily). */
  private pendingTime: Uint8Array | undefined;

  constructor(readonly sessionId: string) {
    this.summaryValue = emptySummary(sessionId);
  }

  get lastSeq(): number {
    return this.wire.length;
  }

  /** Id of the `session.created` event (seq 1). */
  createdEventId = "";

  /** The tenant that owns the session, from its `session.created` event. */
  get tenant(): string {
    return this.summaryValue.tenant;
  }

  /**
   * Applies one stored batch. Batches must come in stream order; a batch already
   * applied (several readers can catch up concurrently) is ignored.
   */
  apply(batch: StoredBatch): void {
    if (batch.streamSeq <= this.lastStreamSeq || batch.wire.length === 0) return;
    const heads: (EventHead | undefined)[] = batch.events ? [] : batch.wire.map(headOf);
    const first = firstSeqOf(batch);
    if (first !== this.lastSeq + 1) {
      throw new Error(
        `session "${this.sessionId}" log is inconsistent: batch at stream seq ${batch.streamSeq} starts at seq ${first}, expected ${this.lastSeq + 1}`,
      );
    }
    let lastFolded = false;
    let grown = 0;
    batch.wire.forEach((wire, i) => {
      const head = heads[i];
      let event = batch.events?.[i];
      const type = event ? eventTypeOf(event) : (head?.type ?? EventType.UNSPECIFIED);
      if (!event && foldedTypes.has(type)) event = decodeWire(wire);
      this.wire.push(wire);
      this.decoded.push(event);
      grown += wire.length + storedEventOverhead + (event ? decodedEventBytes(wire) : 0);
      this.types.push(type);
      const id = event?.id ?? head?.id ?? "";
      this.ids.set(id, this.wire.length);
      const toolUseId = event
        ? event.payload.case === "agentToolUseStarted"
          ? event.payload.value.toolUseId
          : undefined
        : head?.toolUseId;
      if (toolUseId !== undefined && !this.intents.has(toolUseId)) this.intents.set(toolUseId, this.wire.length);
      if (this.wire.length === 1) this.createdEventId = id;
      lastFolded = event !== undefined;
      if (event) foldEvent(this.summaryValue, event);
      else this.summaryValue.lastSeq = BigInt(this.wire.length);
      noteLatest(this.summaryValue, type, this.wire.length);
    });
    // update_time is decoded only when a summary is asked for.
    this.pendingTime = lastFolded ? undefined : heads[heads.length - 1]?.time;
    this.lastStreamSeq = batch.streamSeq;
    this.bytes += batch.size;
    this.summaryValue.logBytes = BigInt(this.bytes);
    this.grow(grown);
  }

  private grow(delta: number): void {
    this.memoryBytes += delta;
    this.onMemoryChange?.(delta);
  }

  /** Seq of an event id in the log, if present. */
  seqOf(eventId: string): number | undefined {
    return this.ids.get(eventId);
  }

  /** Seq of the `agent.tool_use_started` event for a tool_use id, if the log has one. */
  intentSeqOf(toolUseId: string): number | undefined {
    return this.intents.get(toolUseId);
  }

  /** The event at a seq (1..lastSeq), decoded on first use. */
  at(seq: number): Event | undefined {
    const i = seq - 1;
    const wire = this.wire[i];
    if (!wire) return undefined;
    let event = this.decoded[i];
    if (!event) {
      event = decodeWire(wire);
      this.decoded[i] = event;
      this.grow(decodedEventBytes(wire));
    }
    return event;
  }

  /** The stored bytes of the event at a seq. */
  wireAt(seq: number): Uint8Array | undefined {
    return this.wire[seq - 1];
  }

  typeAt(seq: number): EventType {
    return this.types[seq - 1] ?? EventType.UNSPECIFIED;
  }

  /** Seq of the latest event of a type, if the log has one. */
  latestOf(type: EventType): number | undefined {
    return latestSeqIn(this.summaryValue, type);
  }

  /** A copy of the summary, safe to hand out. */
  summary(): Session {
    if (this.pendingTime) {
      this.summaryValue.updateTime = decodeTimestamp(this.pendingTime);
      this.pendingTime = undefined;
    }
    return clone(SessionSchema, this.summaryValue);
  }
}

/**
 * Whether a caller confined to `tenant` (undefined: not confined) may see this
 * session: a session of another tenant reads exactly like a missing one.
 */
export function visibleTo(state: SessionState | undefined, tenant: string | undefined): state is SessionState {
  return state !== undefined && (tenant === undefined || state.tenant === tenant);
}
