import path from "node:path";
import { repoRoot, scriptTurns } from "@reins/testkit";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { startHarnessStack } from "./support/harness-stack.js";
import { startPrometheus } from "./support/prometheus.js";

// The three daemons as real processes, scraped by a real Prometheus: after one
// session with tool calls against the fake Messages API, PromQL over what it
// scraped gives the exact counts, every daemon's exposition passes
// `promtool check metrics`, and no label carries a session id.

const observability = path.join(repoRoot, "deploy", "observability");

describe("Prometheus metrics", { timeout: 120_000 }, () => {
  it("counts a session's model requests, tool calls and appends, as a real Prometheus scrapes them", async () => {
    const script = scriptTurns([
      {
        content: [
          { type: "text", text: "Two calls." },
          { type: "tool_use", id: "toolu_ok", name: "sh", input: { command: "echo fine" } },
          { type: "tool_use", id: "toolu_bad", name: "sh", input: { command: "echo broken >&2; exit 3" } },
        ],
      },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script);
    const daemons = {
      "reins-session": stack.session,
      "reins-harness": stack.harness(),
      "reins-executor": stack.executor,
    };
    const targets = Object.fromEntries(
      Object.entries(daemons).map(([job, daemon]) => {
        if (daemon.metricsUrl === undefined) throw new Error(`${job} announced no metrics URL`);
        return [job, daemon.metricsUrl];
      }),
    );
    await using prometheus = await startPrometheus(targets);

    const { sessionId } = await stack.client().startSession({
      config: { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] },
      message: "go",
    });
    const events = await stack.settled(sessionId);
    const results = events.flatMap((e) => (e.payload.case === "agentToolResult" ? [e.payload.value] : []));
    expect(results.map((r) => [r.toolUseId, r.isError])).toEqual([
      ["toolu_ok", false],
      ["toolu_bad", true],
    ]);
    await prometheus.scrapedSince(Date.now());

    const value = async (promql: string) => {
      const samples = await prometheus.query(promql);
      expect(samples, promql).toHaveLength(1);
      return samples[0]?.value;
    };
    expect(await value('sum(up{job=~"reins-.*"})')).toBe(3);
    expect(await value('sum(reins_harness_model_requests_total{model="claude-test",outcome="ok"})')).toBe(2);
    expect(await prometheus.query('reins_harness_model_requests_total{outcome!="ok"}')).toEqual([]);
    expect(await value('reins_harness_model_request_duration_seconds_count{model="claude-test"}')).toBe(2);
    expect(await value('sum(reins_harness_model_tokens_total{model="claude-test",type="output"})')).toBeGreaterThan(0);
    expect(await value('reins_harness_tool_calls_total{kind="executor",outcome="ok"}')).toBe(1);
    expect(await value('reins_harness_tool_calls_total{kind="executor",outcome="error"}')).toBe(1);
    expect(await value('reins_executor_calls_total{tool="sh",outcome="ok"}')).toBe(1);
    expect(await value('reins_executor_calls_total{tool="sh",outcome="error"}')).toBe(1);
    expect(await value("sum(reins_executor_warm_pool_requests_total)")).toBe(2);
    expect(await value("reins_session_appended_events_total")).toBe(events.length);
    expect(await value('reins_session_appends_total{result="fenced"}')).toBe(0);
    expect(
      await value(
        'reins_rpc_requests_total{job="reins-harness",service="reins.harness.v1.HarnessService",method="StartSession",code="OK"}',
      ),
    ).toBe(1);
    expect(
      await value(
        'sum(reins_rpc_requests_total{job="reins-executor",service="reins.executor.v1.ExecutorService",method="Execute",code="OK"})',
      ),
    ).toBe(2);
    expect(await value("reins_session_nats_connected")).toBe(1);

    for (const [job, url] of Object.entries(targets)) {
      const text = await (await fetch(url)).text();
      expect(text, `${job} labels`).not.toContain(sessionId);
      const lint = await execa("promtool", ["check", "metrics"], { input: text, reject: false });
      expect({ job, exitCode: lint.exitCode, problems: `${lint.stdout}${lint.stderr}` }).toEqual({
        job,
        exitCode: 0,
        problems: "",
      });
    }
  });
});

describe("deploy/observability", () => {
  it("has a scrape config, and alert rules, that promtool accepts", async () => {
    const config = await execa("promtool", ["check", "config", path.join(observability, "prometheus.yml")], {
      reject: false,
    });
    expect(config.exitCode, `${config.stdout}${config.stderr}`).toBe(0);
    const rules = await execa("promtool", ["check", "rules", path.join(observability, "alerts.yml")], {
      reject: false,
    });
    expect(rules.exitCode, `${rules.stdout}${rules.stderr}`).toBe(0);
    expect(rules.stdout).toContain("SUCCESS: 7 rules found");
  });
});
