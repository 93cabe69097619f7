import { create } from "@bufbuild/protobuf";
import { AgentConfigSchema } from "@reins/proto";
import { scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import type { HarnessMetrics } from "../harness-metrics.js";
import { startLoopEnv } from "../testing/loop-env.js";

const config = () => create(AgentConfigSchema, { model: "claude-test", systemPrompt: "Be brief.", tools: ["bash"] });

function recorder() {
  const seen = {
    runs: [] as string[],
    started: 0,
    models: [] as Array<[string, string, string, boolean]>,
    tools: [] as Array<[string, string]>,
  };
  const metrics: HarnessMetrics = {
    runStarted: () => seen.started++,
    runEnded: (outcome) => seen.runs.push(outcome),
    modelRequest: (model, outcome, stats, tenant) => seen.models.push([model, outcome, tenant, stats !== undefined]),
    toolCall: (kind, outcome) => seen.tools.push([kind, outcome]),
    compaction: () => undefined,
    wakeTaken: () => undefined,
    wakeFinished: () => undefined,
  };
  return { seen, metrics };
}

describe("what the loop reports", () => {
  it("every model request with its outcome, every tool call by kind and outcome, and the run", async () => {
    const { seen, metrics } = recorder();
    await using env = await startLoopEnv(
      scriptTurns([
        {
          content: [
            { type: "tool_use", name: "bash", input: { command: "fine" } },
            { type: "tool_use", name: "bash", input: { command: "broken" } },
          ],
        },
        { content: [{ type: "text", text: "Done." }] },
      ]),
      { metrics },
    );
    env.executor.setHandler((req) => ({ output: "ran", isError: req.inputJson.includes("broken") }));
    await env.harness.startSession({ sessionId: "counted", config: config(), message: "go" });
    await env.settled("counted");
    expect(seen.models).toEqual([
      ["claude-test", "ok", "", true],
      ["claude-test", "ok", "", true],
    ]);
    expect([...seen.tools].sort()).toEqual([
      ["executor", "error"],
      ["executor", "ok"],
    ]);
    await expect.poll(() => seen.runs).toEqual(["idle"]);
    expect(seen.started).toBe(1);
  });

  it("a refused model request with the error's kind", async () => {
    const { seen, metrics } = recorder();
    await using env = await startLoopEnv(() => ({ fault: "status", status: 401 }), { metrics });
    await env.harness.startSession({ sessionId: "refused", config: config(), message: "go" });
    await env.settled("refused");
    expect(seen.models).toEqual([["claude-test", "unauthorized", "", true]]);
    expect(seen.tools).toEqual([]);
  });
});
