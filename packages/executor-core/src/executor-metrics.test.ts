import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { CallOutcome, ExecutorMetrics } from "./executor-metrics.js";
import { shCatalog, startTestExecutor } from "./testing/test-executor.js";

function recorder() {
  const calls: Array<[string, CallOutcome]> = [];
  const starts: Array<[string, boolean]> = [];
  const pool: boolean[] = [];
  const metrics: ExecutorMetrics = {
    call: (tool, outcome) => calls.push([tool, outcome]),
    containerStart: (purpose, ok) => starts.push([purpose, ok]),
    warmPool: (hit) => pool.push(hit),
    reaped: () => undefined,
  };
  return { calls, starts, pool, metrics };
}

describe("executor metrics", () => {
  it("reports each call's tool and outcome, cold starts and warm-pool misses", async () => {
    const seen = recorder();
    await using t = await startTestExecutor(shCatalog({ timeout: 1 }, { size: 0 }), { metrics: seen.metrics });
    await t.run("sh", { command: "echo fine" });
    await t.run("sh", { command: "exit 3" });
    await t.run("sh", { command: "sleep 30" });
    await t.run("nope", {});
    await t.run("sh", { wrong: 1 });
    const abort = new AbortController();
    abort.abort();
    await t.executor.execute({ name: "sh", inputJson: '{"command":"true"}' }, abort.signal).catch(() => undefined);
    expect(seen.calls).toEqual([
      ["sh", "ok"],
      ["sh", "error"],
      ["sh", "timeout"],
      ["unknown", "refused"],
      ["sh", "refused"],
      ["sh", "cancelled"],
    ]);
    // No pool (size 0): every call that got as far as a container started its own.
    expect(seen.pool).toEqual([false, false, false]);
    expect(seen.starts).toEqual([
      ["call", true],
      ["call", true],
      ["call", true],
    ]);
  });

  it("reports a call refused because the queue is full", async () => {
    const seen = recorder();
    await using t = await startTestExecutor(shCatalog({}, { size: 0 }), {
      metrics: seen.metrics,
      maxConcurrent: 1,
      maxQueued: 0,
    });
    const first = t.run("sh", { command: "sleep 1" });
    const refused = await t.run("sh", { command: "true" }).catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    await first;
    expect(seen.calls).toEqual([
      ["sh", "queue_full"],
      ["sh", "ok"],
    ]);
  });
});
