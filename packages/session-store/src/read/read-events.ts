import type { Event, EventType } from "@reins/proto";
import { SessionNotFoundError } from "../errors.js";
import { decodeWire, firstSeqOf, headOf, type SessionState, visibleTo } from "../log/index.js";
import { type CurrentSummary, currentSummary } from "../session-index/index.js";
import type { StoreContext } from "../store-context.js";
import { checkLimit, checkSessionId, checkTypes } from "../validate.js";

export interface GetEventsOptions {
  /** Events with seq greater than this. */
  readonly afterSeq?: bigint | number;
  /** 1..1000; 0 or absent means 1000. */
  readonly limit?: number;
  /** Only these types; empty means all. */
  readonly types?: readonly EventType[];
  /** Only a session of this tenant: any other is SessionNotFoundError. */
  readonly tenant?: string;
}

export interface EventsPage {
  /** The events, decoded on first access. */
  readonly events: Event[];
  /** The same events' stored bytes (field-1 values), for sending them as they are. */
  readonly wire: readonly Uint8Array[];
  /** The seq of the last event examined; pass as afterSeq to continue. */
  readonly nextAfterSeq: number;
  /** The log's last seq at the time of the read. */
  readonly lastSeq: number;
}

function page(wire: readonly Uint8Array[], decode: (i: number) => Event, nextAfterSeq: number, lastSeq: number) {
  let events: Event[] | undefined;
  return {
    get events() {
      events ??= wire.map((_, i) => decode(i));
      return events;
    },
    wire,
    nextAfterSeq,
    lastSeq,
  };
}

/**
 * Reads a positional slice of a session's log. Where the session is cached (or
 * the read starts at seq 1, which reads the whole log anyway) the page is cut
 * from the replica's copy, brought up to the log's end first (one direct get
 * when it already is). A read further on of a session not cached here reads
 * only the slice: the index says where the log ends, a seek finds the batch
 * after `afterSeq`, and the batches from there on are read until the page is
 * full. Events are decoded only if the caller looks at them as objects.
 */
export async function getEvents(ctx: StoreContext, sessionId: string, options: GetEventsOptions): Promise<EventsPage> {
  checkSessionId(sessionId);
  const limit = checkLimit(options.limit ?? 0);
  const types = checkTypes(options.types ?? []);
  const afterSeq = Number(options.afterSeq ?? 0);
  ctx.conn.assertReady();

  let state: SessionState | undefined;
  if (afterSeq > 0 && !ctx.cache.peek(sessionId)) {
    const current = await currentSummary(ctx, sessionId);
    if (!current || (options.tenant !== undefined && current.summary.tenant !== options.tenant)) {
      throw new SessionNotFoundError(sessionId);
    }
    if (!current.state) {
      const slice = await readSlice(ctx, sessionId, current, afterSeq, limit, types);
      if (slice) return slice;
    }
    state = current.state;
  }
  state ??= await ctx.cache.load(sessionId);
  // Checked on the state the page is cut from.
  if (!visibleTo(state, options.tenant)) throw new SessionNotFoundError(sessionId);
  const copy = state;
  const lastSeq = copy.lastSeq;
  const seqs: number[] = [];
  let examined = afterSeq;
  while (examined < lastSeq && seqs.length < limit) {
    examined += 1;
    if (types.size === 0 || types.has(copy.typeAt(examined))) seqs.push(examined);
  }
  const wire = seqs.map((seq) => copy.wireAt(seq) as Uint8Array);
  return page(wire, (i) => copy.at(seqs[i] as number) as Event, Math.max(examined, afterSeq), lastSeq);
}

/**
 * The page after `afterSeq` read from the stream, up to the log's end as the
 * index entry saw it; undefined when the log is not the one the entry describes.
 */
async function readSlice(
  ctx: StoreContext,
  sessionId: string,
  current: CurrentSummary & { last: NonNullable<CurrentSummary["last"]> },
  afterSeq: number,
  limit: number,
  types: ReadonlySet<EventType>,
): Promise<EventsPage | undefined> {
  const lastSeq = Number(current.summary.lastSeq);
  if (afterSeq >= lastSeq) return page([], () => undefined as never, afterSeq, lastSeq);
  const { last } = current;
  const subject = ctx.subjectOf(sessionId);
  const from = await ctx.reader.seek(subject, afterSeq + 1, last);
  if (!from) return undefined;
  const wire: Uint8Array[] = [];
  let examined = afterSeq;
  let continues = true;
  const take = (batch: typeof from) => {
    if (firstSeqOf(batch) > examined + 1) continues = false;
    for (const w of batch.wire) {
      if (!continues || wire.length >= limit) return;
      const head = headOf(w);
      if (head.seq <= examined) continue;
      if (head.seq !== examined + 1) continues = false;
      else {
        examined = head.seq;
        if (types.size === 0 || types.has(head.type)) wire.push(w);
      }
    }
  };
  take(from);
  if (continues && wire.length < limit && from.streamSeq < last.streamSeq) {
    await ctx.reader.scan(subject, from.streamSeq + 1, (batch) => {
      if (batch.streamSeq > last.streamSeq) return false;
      take(batch);
      return continues && wire.length < limit && batch.streamSeq < last.streamSeq;
    });
  }
  if (!continues) return undefined;
  const decoded: Event[] = [];
  return page(wire, (i) => (decoded[i] ??= decodeWire(wire[i] as Uint8Array)), examined, lastSeq);
}
