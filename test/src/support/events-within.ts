import type { Client } from "@connectrpc/connect";
import type { Event, SessionService } from "@reins/proto";

/**
 * Every event a session gets after `afterSeq` within `ms`: the log watched
 * live, not polled, so a quiet period proves that nothing was written.
 */
export async function eventsWithin(
  sessions: Client<typeof SessionService>,
  sessionId: string,
  afterSeq: bigint,
  ms: number,
): Promise<Event[]> {
  const seen: Event[] = [];
  try {
    const signal = AbortSignal.timeout(ms);
    for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal })) {
      if (event) seen.push(event);
    }
  } catch (err) {
    if ((err as Error).name !== "TimeoutError" && !/timeout|aborted|canceled/i.test(String(err))) throw err;
  }
  return seen;
}
