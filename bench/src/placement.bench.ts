// Placement of sessions on an executor fleet, all real processes (nats-server,
// the session daemon with its registry, three executor daemons on one Docker
// engine that register themselves, a harness in registry placement mode) and the
// fake Messages API in this process:
//
//   1. Throughput: sessions completed per minute with 1, 2 and 3 executors
//      taking placements (the others drained), in alternating rounds of the same
//      run; the 1-executor figure is the baseline the others are read against.
//   2. Placement latency: the placement step (registry listing through the
//      harness's cache, choice, the `session.placed` append), p50/p95 as the
//      harness logs it, and the time from `agent.tool_use_started` to
//      `session.placed` in the log (event times set by the session service).
//
//   pnpm bench placement   (or: cd bench && node --conditions=@reins/source --import tsx src/placement.bench.ts)
//
// REINS_BENCH_SESSIONS (default 12) sessions per round, REINS_BENCH_ROUNDS (default 2)
// rounds of 1, 2, 3 executors. Needs nats-server, the built daemons and a Docker
// engine with the reins/sandbox-tiny image (or the one REINS_SANDBOX_IMAGE names).

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { scriptTurns, startFakeAnthropic } from "@reins/fake-anthropic";
import { testImage } from "@reins/launch";
import { type Event, ExecutorRegistryService, HarnessService, RunState, SessionService } from "@reins/proto";
import { type Daemon, resolveDockerHost, startDaemon, startNatsServer } from "@reins/testkit";

const sessionsPerRound = Number(process.env.REINS_BENCH_SESSIONS ?? 12);
const rounds = Number(process.env.REINS_BENCH_ROUNDS ?? 2);
const ids = ["exec-1", "exec-2", "exec-3"];
const token = "placement-bench-token";
const config = { model: "claude-test", tools: ["sh"] };
const cacheMs = 1000;

const catalog = `
defaults: { image: ${testImage()}, timeout: 60s, memory: 64m, pids: 64, workspace: none }
pool: { size: 2 }
tools:
  - name: sh
    description: Run a shell command.
    input_schema: { type: object, properties: { command: { type: string } }, required: [command] }
    command: { argv: [sh, -c, "{{command}}"] }
`;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const dir = await mkdtemp(path.join(tmpdir(), "reins-placement-bench-"));
const owned: Array<() => Promise<unknown>> = [];
try {
  const toolsFile = path.join(dir, "tools.yaml");
  await writeFile(toolsFile, catalog);
  const nats = await startNatsServer();
  owned.push(() => nats.stop());
  const fake = await startFakeAnthropic({
    script: scriptTurns([
      { content: [{ type: "tool_use", name: "sh", input: { command: "echo one" } }] },
      { content: [{ type: "tool_use", name: "sh", input: { command: "echo two" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]),
  });
  owned.push(() => fake.close());
  const session = await startDaemon({
    app: "session",
    env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
  });
  owned.push(() => session.kill("SIGTERM"));
  const executors: Daemon[] = [];
  for (const id of ids) {
    const executor = await startDaemon({
      app: "executor",
      env: {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: token,
        REINS_EXECUTOR_ID: id,
        REINS_EXECUTOR_REGISTRY_URL: session.url,
        REINS_TOOLS_CONFIG: toolsFile,
        DOCKER_HOST: resolveDockerHost(),
      },
    });
    executors.push(executor);
    owned.push(() => executor.kill("SIGTERM"));
  }
  const harness = await startDaemon({
    app: "harness",
    env: {
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_SESSION_URL: session.url,
      REINS_HARNESS_PLACEMENT: "registry",
      REINS_HARNESS_PLACEMENT_CACHE_MS: String(cacheMs),
      REINS_EXECUTOR_TOKEN: token,
      REINS_NATS_URL: nats.url,
      ANTHROPIC_API_KEY: "bench-key",
      ANTHROPIC_BASE_URL: fake.url,
      REINS_WAKE_MODE: "direct",
    },
  });
  owned.push(() => harness.kill("SIGTERM"));
  const transport = (url: string) => createGrpcTransport({ baseUrl: url });
  const sessions = createClient(SessionService, transport(session.url));
  const registry = createClient(ExecutorRegistryService, transport(session.url));
  const harnessClient = createClient(HarnessService, transport(harness.url));

  const settled = async (sessionId: string): Promise<Event[]> => {
    const events: Event[] = [];
    const leave = new AbortController();
    try {
      for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n }, { signal: leave.signal })) {
        if (!event) continue;
        events.push(event);
        if (event.payload.case !== "sessionStatus") continue;
        const { state } = event.payload.value;
        if (state === RunState.IDLE || state === RunState.TERMINATED) return events;
      }
    } finally {
      leave.abort();
    }
    return events;
  };

  // n executors take placements: the others are drained, and the harness's cached listing has expired.
  const useExecutors = async (n: number) => {
    for (const [i, id] of ids.entries()) await registry.drainExecutor({ id, draining: i >= n });
    await new Promise((resolve) => setTimeout(resolve, cacheMs + 100));
  };

  const intentToPlaced: number[] = [];
  const perMinute = new Map<number, number[]>();
  const spread = new Map<number, Map<string, number>>();
  for (let round = 0; round < rounds + 1; round++) {
    // Round 0 warms the pools and the harness; it is not counted.
    const order = round % 2 === 0 ? [1, 2, 3] : [3, 2, 1];
    for (const n of order) {
      await useExecutors(n);
      const began = performance.now();
      const started = await Promise.all(
        Array.from({ length: sessionsPerRound }, (_, i) =>
          harnessClient.startSession({ config, message: `round ${round} n ${n} #${i}` }),
        ),
      );
      const logs = await Promise.all(started.map(({ sessionId }) => settled(sessionId)));
      const seconds = (performance.now() - began) / 1000;
      if (round === 0) continue;
      perMinute.set(n, [...(perMinute.get(n) ?? []), (sessionsPerRound / seconds) * 60]);
      const counts = spread.get(n) ?? new Map<string, number>();
      for (const events of logs) {
        const intent = events.find((e) => e.payload.case === "agentToolUseStarted");
        const placed = events.find((e) => e.payload.case === "sessionPlaced");
        if (placed?.payload.case === "sessionPlaced") {
          const id = placed.payload.value.executorId;
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        if (intent?.time && placed?.time) intentToPlaced.push(timestampMs(placed.time) - timestampMs(intent.time));
      }
      spread.set(n, counts);
    }
  }
  await useExecutors(3);

  // The harness logs each placement step's duration (its "session placed" lines).
  const steps = harness.output
    .filter((line) => line.includes('"session placed: first call"'))
    .map((line) => (JSON.parse(line) as { ms: number }).ms);

  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const base = mean(perMinute.get(1) ?? []);
  console.log(
    `placement: ${sessionsPerRound} sessions per round (2 tool calls each), ${rounds} rounds of 1/2/3 executors on one engine`,
  );
  console.log("| executors | sessions/min (mean) | per round | vs 1 executor | sessions per executor |");
  console.log("| --------- | ------------------- | --------- | ------------- | --------------------- |");
  for (const n of [1, 2, 3]) {
    const xs = perMinute.get(n) ?? [];
    const counts = [...(spread.get(n) ?? new Map<string, number>())].sort(([a], [b]) => a.localeCompare(b));
    console.log(
      `| ${n} | ${mean(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(", ")} | ${(mean(xs) / base).toFixed(2)}x | ${counts.map(([id, c]) => `${id}: ${c}`).join(", ")} |`,
    );
  }
  console.log(
    `placement step (harness, listing cached ${cacheMs} ms): p50 ${percentile(steps, 50).toFixed(2)} ms, p95 ${percentile(steps, 95).toFixed(2)} ms (${steps.length} placements)`,
  );
  console.log(
    `agent.tool_use_started -> session.placed (log times): p50 ${percentile(intentToPlaced, 50).toFixed(1)} ms, p95 ${percentile(intentToPlaced, 95).toFixed(1)} ms`,
  );
} finally {
  for (const stop of owned.reverse()) await stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
