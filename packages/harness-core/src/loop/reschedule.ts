/**
 * When a turn whose model stayed unavailable through the adapter's own retries
 * (429, 5xx, 529 overloaded, a lost connection) is tried again. The adapter's
 * retries cover a blip of seconds; these cover an outage of minutes, at
 * intervals that grow so that a model that stays down costs a bounded number
 * of requests, and then the session waits for its client (`retries_exhausted`).
 */
export interface ReschedulePolicy {
  /**
   * The wait before rescheduled attempt `attempt` (1 for the first), or
   * undefined once the attempts are spent.
   */
  delayMs(attempt: number): number | undefined;
  /** Rescheduled attempts in all, after the first. */
  readonly attempts: number;
}

export interface ReschedulePolicyOptions {
  /** Rescheduled attempts before `retries_exhausted`. Default 6. */
  readonly attempts?: number;
  /** Wait before the first; doubled for each next one. Default 5 s. */
  readonly firstDelayMs?: number;
  /** Longest wait. Default 5 min. */
  readonly maxDelayMs?: number;
  /** In [0, 1): each wait is shortened by up to this share, so that sessions
   * failed by one outage do not all come back at once. Default 0.25. */
  readonly jitter?: number;
  readonly random?: () => number;
}

export function createReschedulePolicy(options: ReschedulePolicyOptions = {}): ReschedulePolicy {
  const attempts = options.attempts ?? 6;
  const first = options.firstDelayMs ?? 5_000;
  const max = Math.max(first, options.maxDelayMs ?? 300_000);
  const jitter = Math.min(Math.max(options.jitter ?? 0.25, 0), 0.99);
  const random = options.random ?? Math.random;
  return {
    attempts,
    delayMs(attempt) {
      if (!Number.isInteger(attempt) || attempt < 1 || attempt > attempts) return undefined;
      const full = Math.min(max, first * 2 ** (attempt - 1));
      return Math.round(full * (1 - jitter * random()));
    },
  };
}
