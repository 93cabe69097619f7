/**
 * What the store reports as it works, for a daemon to turn into metrics. The
 * store does not depend on a metrics library: apps/session implements this with
 * prom-client. Every method is cheap and must not throw.
 */
export interface StoreMetrics {
  /** A batch was written: its events and encoded bytes. */
  appended(events: number, bytes: number): void;
  /**
   * An append wrote nothing: "fenced" (another writer moved the log, ABORTED),
   * "log_full" or "rate_limited" (refused by the session's limits).
   */
  refused(reason: "fenced" | "log_full" | "rate_limited"): void;
  /** One JetStream publish, from send to ack. */
  natsRoundTrip(seconds: number): void;
}

export const noStoreMetrics: StoreMetrics = {
  appended: () => undefined,
  refused: () => undefined,
  natsRoundTrip: () => undefined,
};
