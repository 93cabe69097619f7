import { collectDefaultMetrics, Registry } from "prom-client";

// prom-client's gauges that end in _total, which Prometheus reserves for
// counters (`promtool check metrics` refuses them). Their by-type siblings
// (nodejs_active_handles{type}, ...) stay and say the same.
const misnamedDefaults = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * A daemon's own registry, with Node's process metrics (CPU, memory, event-loop
 * lag, handles). Not prom-client's global one: tests and benches run several
 * daemons' code in one process, and each daemon's /metrics must show its own.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of misnamedDefaults) registry.removeSingleMetric(name);
  return registry;
}
