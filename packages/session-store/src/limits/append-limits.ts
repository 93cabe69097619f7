import type { Event } from "@reins/proto";
import type { ResolvedOptions } from "../config.js";
import { LogFullError, RateLimitedError } from "../errors.js";
import type { SessionState } from "../log/index.js";
import { createRateLimiter } from "./rate-limiter.js";

/**
 * Room past the log size limit for batches of only `session.status` and
 * `session.error` events, so a writer refused for a full log can still record
 * why the session stopped. Bounded, so it cannot become a way around the limit.
 */
export const statusReserveBytes = 64 * 1024;

/** The per-session limits an append is checked against before it is published. */
export interface AppendLimits {
  /**
   * Throws LogFullError when writing `batchBytes` more would take the log past
   * the limit. Exact across replicas: `state` is the log as of the fence the
   * batch is published against, and its byte count is folded from the stored
   * messages, so it is the same after a restart or on another replica.
   */
  checkSize(state: SessionState, events: readonly Event[], batchBytes: number): void;
  /**
   * Takes one token per event from the session's bucket, or throws
   * RateLimitedError with when to retry. Per replica: every session-service
   * process keeps its own buckets, so N replicas admit up to N times the rate.
   */
  takeRate(sessionId: string, events: number): void;
}

const onlyStatus = (events: readonly Event[]) =>
  events.every((e) => e.payload.case === "sessionStatus" || e.payload.case === "sessionError");

export function createAppendLimits(
  options: Pick<ResolvedOptions, "maxLogBytes" | "maxEventsPerSecond" | "eventsBurst">,
  now?: () => number,
): AppendLimits {
  const { maxLogBytes, maxEventsPerSecond, eventsBurst } = options;
  const rate =
    maxEventsPerSecond > 0
      ? createRateLimiter({ perSecond: maxEventsPerSecond, burst: eventsBurst, ...(now ? { now } : {}) })
      : undefined;
  return {
    checkSize(state, events, batchBytes) {
      if (maxLogBytes === 0) return;
      const limit = onlyStatus(events) ? maxLogBytes + statusReserveBytes : maxLogBytes;
      if (state.bytes + batchBytes > limit)
        throw new LogFullError(state.sessionId, maxLogBytes, state.bytes, batchBytes);
    },
    takeRate(sessionId, events) {
      const wait = rate?.take(sessionId, events) ?? 0;
      if (wait > 0) throw new RateLimitedError(sessionId, maxEventsPerSecond, eventsBurst, wait);
    },
  };
}
