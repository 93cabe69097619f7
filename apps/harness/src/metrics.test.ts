import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createHarnessMetrics } from "./metrics.js";

const stats = (model: string) => ({
  model,
  attempts: 1,
  latencyMs: 1200,
  timeToFirstTokenMs: 300,
  usage: { inputTokens: 100, outputTokens: 20, cacheCreationInputTokens: 0, cacheReadInputTokens: 50 },
  costUsd: 0.01,
  requestId: "req_1",
});

async function values(registry: Registry, name: string) {
  return (await registry.getSingleMetric(name)?.get())?.values ?? [];
}

describe("harness metrics", () => {
  it("keeps allowed models and folds the others into other", async () => {
    const registry = new Registry();
    const metrics = createHarnessMetrics(registry, { models: ["claude-a"] });
    metrics.modelRequest("claude-a", "ok", stats("claude-a"), "");
    metrics.modelRequest("made-up", "ok", stats("made-up"), "");
    metrics.modelRequest("made-up", "rate_limited", undefined, "");
    expect(await values(registry, "reins_harness_model_requests_total")).toEqual([
      { labels: { model: "claude-a", outcome: "ok" }, value: 1 },
      { labels: { model: "other", outcome: "ok" }, value: 1 },
      { labels: { model: "other", outcome: "rate_limited" }, value: 1 },
    ]);
  });

  it("counts tokens and cost by tenant, with tenants beyond the cap as other", async () => {
    const registry = new Registry();
    const metrics = createHarnessMetrics(registry, { models: [], maxTenants: 2 });
    for (const tenant of ["acme", "globex", "initech", "acme"]) metrics.modelRequest("m", "ok", stats("m"), tenant);
    const cost = await values(registry, "reins_harness_model_cost_usd_total");
    expect(cost.map((v) => [v.labels.tenant, Number(v.value.toFixed(4))])).toEqual([
      ["acme", 0.02],
      ["globex", 0.01],
      ["other", 0.01],
    ]);
    const tokens = await values(registry, "reins_harness_model_tokens_total");
    expect(tokens.filter((v) => v.labels.tenant === "acme").map((v) => [v.labels.type, v.value])).toEqual([
      ["input", 200],
      ["output", 40],
      ["cache_read", 100],
    ]);
  });

  it("tracks runs in progress and counts how they ended", async () => {
    const registry = new Registry();
    const metrics = createHarnessMetrics(registry, { models: [] });
    metrics.runStarted();
    metrics.runStarted();
    metrics.runEnded("idle");
    expect(await values(registry, "reins_harness_runs_active")).toEqual([{ labels: {}, value: 1 }]);
    expect(await values(registry, "reins_harness_runs_total")).toEqual([{ labels: { outcome: "idle" }, value: 1 }]);
  });
});
