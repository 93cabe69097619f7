import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * A daemon's own registry, with Node's process metrics (CPU, memory, event-loop
 * lag, handles). Not prom-client's global one: tests and benches run several
 * daemons' code in one process, and each daemon's /metrics must show its own.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
