/** How a tool call ended, as a metrics label: a small fixed set. */
export type CallOutcome = "ok" | "error" | "timeout" | "oom" | "cancelled" | "refused" | "queue_full";

/**
 * What the executor reports as it works, for a daemon to turn into metrics (the
 * package does not depend on a metrics library: apps/executor implements this
 * with prom-client). Tool names come from the catalog, so they are bounded; a
 * name the catalog lacks is reported as "unknown". Every method is cheap and
 * must not throw.
 */
export interface ExecutorMetrics {
  /** A call ended: its tool, how, and its time from arrival to result, queueing included. */
  call(tool: string, outcome: CallOutcome, seconds: number): void;
  /** A sandbox container started (or failed to): for a call that found no warm one, or to fill the pool. */
  containerStart(purpose: "call" | "pool", ok: boolean, seconds: number): void;
  /** A call looked for a warm container: found one (hit) or started its own (miss). */
  warmPool(hit: boolean): void;
  /** Containers a sweep removed: left by an earlier run ("startup") or created and never started ("never_started"). */
  reaped(reason: "startup" | "never_started", count: number): void;
}

export const noExecutorMetrics: ExecutorMetrics = {
  call: () => undefined,
  containerStart: () => undefined,
  warmPool: () => undefined,
  reaped: () => undefined,
};

/** Times a container start for `metrics`, passing its result or failure through. */
export async function timedStart<T>(
  metrics: ExecutorMetrics,
  purpose: "call" | "pool",
  start: () => Promise<T>,
): Promise<T> {
  const began = performance.now();
  try {
    const container = await start();
    metrics.containerStart(purpose, true, (performance.now() - began) / 1000);
    return container;
  } catch (err) {
    metrics.containerStart(purpose, false, (performance.now() - began) / 1000);
    throw err;
  }
}
