import type { Event, EventType } from "@reins/proto";
import { SessionNotFoundError } from "./errors.js";
import { type SessionState, visibleTo } from "./session-state.js";
import type { StoreContext } from "./store-context.js";
import { checkLimit, checkSessionId, checkTypes } from "./validate.js";

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

function page(state: SessionState, seqs: number[], nextAfterSeq: number, lastSeq: number): EventsPage {
  let events: Event[] | undefined;
  return {
    get events() {
      events ??= seqs.map((seq) => state.at(seq) as Event);
      return events;
    },
    wire: seqs.map((seq) => state.wireAt(seq) as Uint8Array),
    nextAfterSeq,
    lastSeq,
  };
}

/**
 * Reads a positional slice of a session's log. The state is brought up to the
 * log's end first (one direct get when it already is), then the page is cut
 * from the replica's copy of the log; events are decoded only if the caller
 * looks at them as objects.
 */
export async function getEvents(ctx: StoreContext, sessionId: string, options: GetEventsOptions): Promise<EventsPage> {
  checkSessionId(sessionId);
  const limit = checkLimit(options.limit ?? 0);
  const types = checkTypes(options.types ?? []);
  const afterSeq = Number(options.afterSeq ?? 0);
  ctx.conn.assertReady();

  const state = await ctx.cache.load(sessionId);
  // Checked on the state the page is cut from.
  if (!visibleTo(state, options.tenant)) throw new SessionNotFoundError(sessionId);
  const lastSeq = state.lastSeq;
  const seqs: number[] = [];
  let examined = afterSeq;
  while (examined < lastSeq && seqs.length < limit) {
    examined += 1;
    if (types.size === 0 || types.has(state.typeAt(examined))) seqs.push(examined);
  }
  return page(state, seqs, Math.max(examined, afterSeq), lastSeq);
}
