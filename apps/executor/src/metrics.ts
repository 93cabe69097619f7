import type { ExecutorMetrics } from "@reins/executor-core";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** A warm call takes milliseconds, a cold container start about a second, a slow tool minutes. */
const callBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const startBuckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30];

export interface ExecutorLoad {
  readonly running: number;
  readonly queued: number;
  readonly idle: number;
}

/**
 * The executor daemon's own metrics: calls by tool and outcome, container
 * starts, warm-pool hits and misses, sweeps, and the load `load` reports when
 * scraped (running and queued calls, warm containers) against the configured
 * capacity.
 */
export function createExecutorMetrics(
  registry: Registry,
  capacity: { maxConcurrent: number; maxQueued: number },
): ExecutorMetrics & { observeLoad(load: () => ExecutorLoad): void } {
  const calls = new Counter({
    name: "reins_executor_calls_total",
    help: "Tool calls, by tool (from the catalog; 'unknown' for any other name) and outcome: ok, error, timeout, oom, cancelled, refused (bad input), queue_full.",
    labelNames: ["tool", "outcome"],
    registers: [registry],
  });
  const callDuration = new Histogram({
    name: "reins_executor_call_duration_seconds",
    help: "Tool calls from arrival to result, queueing and container start included, by tool.",
    labelNames: ["tool"],
    buckets: callBuckets,
    registers: [registry],
  });
  const starts = new Histogram({
    name: "reins_executor_container_start_seconds",
    help: "Sandbox container starts, by purpose (call: no warm container was there; pool: refilling the warm pool) and result.",
    labelNames: ["purpose", "result"],
    buckets: startBuckets,
    registers: [registry],
  });
  const pool = new Counter({
    name: "reins_executor_warm_pool_requests_total",
    help: "Calls that looked for a warm container, by result: hit or miss.",
    labelNames: ["result"],
    registers: [registry],
  });
  const reaped = new Counter({
    name: "reins_executor_containers_reaped_total",
    help: "Containers removed by sweeps, by reason: startup (left by an earlier run) or never_started.",
    labelNames: ["reason"],
    registers: [registry],
  });
  let load: (() => ExecutorLoad) | undefined;
  const gauge = (name: string, help: string, read: (l: ExecutorLoad) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(load ? read(load()) : 0);
      },
    });
  gauge("reins_executor_running_calls", "Tool calls running now.", (l) => l.running);
  gauge("reins_executor_queued_calls", "Tool calls waiting for a slot.", (l) => l.queued);
  gauge("reins_executor_warm_containers", "Started containers waiting in the warm pools.", (l) => l.idle);
  new Gauge({
    name: "reins_executor_max_running_calls",
    help: "Calls this executor runs at once (REINS_EXECUTOR_MAX_CONCURRENT).",
    registers: [registry],
  }).set(capacity.maxConcurrent);
  new Gauge({
    name: "reins_executor_max_queued_calls",
    help: "Calls that may wait before more are refused with RESOURCE_EXHAUSTED.",
    registers: [registry],
  }).set(capacity.maxQueued);
  for (const result of ["hit", "miss"]) pool.inc({ result }, 0);
  return {
    call(tool, outcome, seconds) {
      calls.inc({ tool, outcome });
      callDuration.observe({ tool }, seconds);
    },
    containerStart: (purpose, ok, seconds) => starts.observe({ purpose, result: ok ? "ok" : "error" }, seconds),
    warmPool: (hit) => pool.inc({ result: hit ? "hit" : "miss" }),
    reaped: (reason, count) => reaped.inc({ reason }, count),
    observeLoad(read) {
      load = read;
    },
  };
}
