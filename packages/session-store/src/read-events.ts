import { type Event, type EventType, eventTypeOf } from "@reins/proto";
import { SessionNotFoundError } from "./errors.js";
import type { StoreContext } from "./store-context.js";
import { checkLimit, checkSessionId, checkTypes } from "./validate.js";

export interface GetEventsOptions {
  /** Events with seq greater than this. */
  readonly afterSeq?: bigint | number;
  /** 1..1000; 0 or absent means 1000. */
  readonly limit?: number;
  /** Only these types; empty means all. */
  readonly types?: readonly EventType[];
}

export interface EventsPage {
  readonly events: Event[];
  /** The seq of the last event examined; pass as afterSeq to continue. */
  readonly nextAfterSeq: number;
  /** The log's last seq at the time of the read. */
  readonly lastSeq: number;
}

/**
 * Reads a positional slice of a session's log. The state's batch index maps
 * `afterSeq` to the stream sequence of the batch holding the next event, so a
 * page starts exactly there and reads exactly the batches it needs.
 */
export async function getEvents(ctx: StoreContext, sessionId: string, options: GetEventsOptions): Promise<EventsPage> {
  checkSessionId(sessionId);
  const limit = checkLimit(options.limit ?? 0);
  const types = checkTypes(options.types ?? []);
  const afterSeq = Number(options.afterSeq ?? 0);
  ctx.conn.assertReady();

  const state = await ctx.cache.load(sessionId);
  if (!state) throw new SessionNotFoundError(sessionId);
  const lastSeq = state.lastSeq;
  const lastStreamSeq = state.lastStreamSeq;
  if (afterSeq >= lastSeq) return { events: [], nextAfterSeq: afterSeq, lastSeq };

  const first = state.batchIndexOf(afterSeq + 1);
  // Without a filter the page's last batch is known; with one, read until the
  // page is full or the log (as of this read) ends.
  const batches = types.size === 0 ? state.batchIndexOf(Math.min(afterSeq + limit, lastSeq)) - first + 1 : undefined;
  const events: Event[] = [];
  let examined = afterSeq;
  await ctx.reader.scan(
    ctx.subjectOf(sessionId),
    state.streamSeqAt(first),
    (batch) => {
      for (const event of batch.events) {
        const seq = Number(event.seq);
        if (seq <= afterSeq) continue;
        if (seq > lastSeq) return false;
        examined = seq;
        if (types.size === 0 || types.has(eventTypeOf(event))) {
          events.push(event);
          if (events.length === limit) return false;
        }
      }
      return batch.streamSeq < lastStreamSeq;
    },
    batches,
  );
  return { events, nextAfterSeq: examined, lastSeq };
}
