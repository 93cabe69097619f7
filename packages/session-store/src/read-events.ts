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
 * Reads a positional slice of a session's log. The state is brought up to the
 * log's end first (one direct get when it already is), then the page is cut
 * from the replica's copy of the log.
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
  if (afterSeq >= lastSeq) return { events: [], nextAfterSeq: afterSeq, lastSeq };
  if (types.size === 0) {
    const events = state.slice(afterSeq, Math.min(afterSeq + limit, lastSeq));
    return { events, nextAfterSeq: afterSeq + events.length, lastSeq };
  }
  const events: Event[] = [];
  let examined = afterSeq;
  while (examined < lastSeq && events.length < limit) {
    examined += 1;
    const event = state.at(examined) as Event;
    if (types.has(eventTypeOf(event))) events.push(event);
  }
  return { events, nextAfterSeq: examined, lastSeq };
}
