import type { HarnessMetrics } from "@reins/harness-core";
import { createLabelCap } from "@reins/service-kit";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** A first token in a few hundred ms, a long answer in a minute or more. */
const modelBuckets = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];
const toolBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface HarnessMetricsOptions {
  /** Models kept as the `model` label; empty: the first `maxModels` seen. Others become "other". */
  readonly models: readonly string[];
  /** Distinct tenants kept as the `tenant` label before the rest become "other". Default 100. */
  readonly maxTenants?: number;
  /** Default 20. */
  readonly maxModels?: number;
}

/**
 * The harness daemon's own metrics (harness-core reports into them through
 * HarnessMetrics): runs, wakes, model requests with their latency, tokens and
 * cost, tool calls by kind and outcome, compactions. Model and tenant come from
 * callers, so both are capped; no session id is ever a label.
 */
export function createHarnessMetrics(
  registry: Registry,
  options: HarnessMetricsOptions,
): HarnessMetrics & { observeLeases(held: () => number): void } {
  const modelLabel = createLabelCap({ max: options.maxModels ?? 20, allow: options.models });
  const tenantLabel = createLabelCap({ max: options.maxTenants ?? 100 });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
    new Histogram({ name, help, labelNames, buckets, registers: [registry] });

  const active = new Gauge({
    name: "reins_harness_runs_active",
    help: "Agent-loop runs in progress in this replica.",
    registers: [registry],
  });
  const runs = counter(
    "reins_harness_runs_total",
    "Agent-loop runs ended, by outcome: idle, terminated, rescheduled, fenced, stopped, failed.",
    ["outcome"],
  );
  const wakes = counter(
    "reins_harness_wakes_total",
    "Wake deliveries this replica took, by whether it was a redelivery (another replica, or this one, did not finish it).",
    ["delivery"],
  );
  const wakeResults = counter(
    "reins_harness_wake_results_total",
    "What became of the wakes taken: done, retry (the run failed), rescheduled, hand_back (shutdown), lost (the lease ran out).",
    ["result"],
  );
  const requests = counter(
    "reins_harness_model_requests_total",
    "Model requests, by model and outcome: ok, aborted, failed, or the error kind (rate_limited, overloaded, ...).",
    ["model", "outcome"],
  );
  const latency = histogram(
    "reins_harness_model_request_duration_seconds",
    "Model requests from send to the last token (retries included), by model.",
    ["model"],
    modelBuckets,
  );
  const firstToken = histogram(
    "reins_harness_model_time_to_first_token_seconds",
    "Model requests from send to their first token, by model.",
    ["model"],
    modelBuckets,
  );
  const tokens = counter(
    "reins_harness_model_tokens_total",
    "Tokens of model requests, by model, tenant and type: input, output, cache_creation, cache_read.",
    ["model", "tenant", "type"],
  );
  const cost = counter(
    "reins_harness_model_cost_usd_total",
    "Estimated cost of model requests in US dollars, by model and tenant.",
    ["model", "tenant"],
  );
  const tools = counter(
    "reins_harness_tool_calls_total",
    "Tool calls, by kind (executor, host, mcp; custom: a result the client sent) and outcome (ok, error, failed).",
    ["kind", "outcome"],
  );
  const toolDuration = histogram(
    "reins_harness_tool_call_duration_seconds",
    "Tool calls the harness ran, from the call to its result, by kind.",
    ["kind"],
    toolBuckets,
  );
  const compactions = counter(
    "reins_harness_compactions_total",
    "Context compactions, by reason (threshold, prompt_too_long) and result (done, failed).",
    ["reason", "result"],
  );
  let leases: (() => number) | undefined;
  new Gauge({
    name: "reins_harness_wake_leases_held",
    help: "Sessions this replica holds under a wake-queue lease.",
    registers: [registry],
    collect() {
      this.set(leases?.() ?? 0);
    },
  });
  // Series an alert divides by exist from the start, at zero.
  for (const delivery of ["first", "redelivery"]) wakes.inc({ delivery }, 0);
  for (const result of ["done", "retry"]) wakeResults.inc({ result }, 0);

  return {
    runStarted: () => active.inc(),
    runEnded(outcome) {
      active.dec();
      runs.inc({ outcome });
    },
    modelRequest(name, outcome, stats, tenantName) {
      const model = modelLabel(name);
      requests.inc({ model, outcome });
      if (!stats) return;
      latency.observe({ model }, stats.latencyMs / 1000);
      if (stats.timeToFirstTokenMs !== undefined) firstToken.observe({ model }, stats.timeToFirstTokenMs / 1000);
      const tenant = tenantLabel(tenantName);
      const { usage } = stats;
      for (const [type, n] of [
        ["input", usage.inputTokens],
        ["output", usage.outputTokens],
        ["cache_creation", usage.cacheCreationInputTokens],
        ["cache_read", usage.cacheReadInputTokens],
      ] as const) {
        if (n > 0) tokens.inc({ model, tenant, type }, n);
      }
      if (stats.costUsd > 0) cost.inc({ model, tenant }, stats.costUsd);
    },
    toolCall(kind, outcome, seconds) {
      tools.inc({ kind, outcome });
      if (seconds !== undefined) toolDuration.observe({ kind }, seconds);
    },
    compaction: (reason, ok) => compactions.inc({ reason, result: ok ? "done" : "failed" }),
    wakeTaken: (redelivered) => wakes.inc({ delivery: redelivered ? "redelivery" : "first" }),
    wakeFinished: (result) => wakeResults.inc({ result }),
    observeLeases(held) {
      leases = held;
    },
  };
}
