// Turn overhead of the harness with observability off and on, in one run: two
// stacks of real daemons (a session daemon and a harness daemon each) on one
// nats-server, one with metrics listeners off and no OTEL_* variables, one with
// metrics scraped every second and traces exported over OTLP/HTTP to a sink
// (support/observability.ts). The model (the fake Messages API, answering at
// once) and the executor (doing nothing) are in this process and shared, so a
// session's time is the stack's own: its turns' appends, reads and RPCs.
// Sessions of 21 turns (20 with tool calls), alternating between the stacks in rounds.
//
//   pnpm bench harness     (or: cd bench && node --conditions=@reins/source --import tsx src/harness-observability.bench.ts)
//
// Needs nats-server and the built daemons (`pnpm exec turbo run build`).

import { loadavg } from "node:os";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { startFakeAnthropic } from "@reins/fake-anthropic";
import { HarnessService, RunState, SessionService } from "@reins/proto";
import { type Daemon, startDaemon, startNatsServer } from "@reins/testkit";
import {
  compareOnOff,
  type ObservabilityMode,
  observabilityEnv,
  startOtlpSink,
  startScraper,
} from "./support/observability.js";
import { cpuMsOf } from "./support/process-cpu.js";
import { startNullExecutor, toolTurnsScript, turnsPerSession } from "./support/tool-turns.js";

const rounds = Number(process.env.REINS_BENCH_ROUNDS ?? 8);
const sessionsPerRound = Number(process.env.REINS_BENCH_SESSIONS ?? 2);
const config = {
  model: "claude-bench",
  systemPrompt: "You are a benchmark.",
  toolDefinitions: [{ name: "bash", description: "run", inputSchemaJson: '{"type":"object"}' }],
};

await using nats = await startNatsServer();
await using sink = await startOtlpSink();
await using fake = await startFakeAnthropic({ script: toolTurnsScript() });
await using executor = await startNullExecutor();

interface Stack extends AsyncDisposable {
  readonly daemons: Daemon[];
  /** One session to its end; the time per turn in ms. */
  session(): Promise<number>;
}

async function startStack(mode: ObservabilityMode): Promise<Stack> {
  const session = await startDaemon({
    app: "session",
    env: {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      REINS_STREAM_PREFIX: `BENCH_${mode.toUpperCase()}`,
      ...observabilityEnv(mode, "session", sink.url),
    },
  });
  const harness = await startDaemon({
    app: "harness",
    env: {
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_SESSION_URL: session.url,
      REINS_EXECUTOR_URL: executor.url,
      REINS_NATS_URL: nats.url,
      REINS_STREAM_PREFIX: `BENCH_${mode.toUpperCase()}`,
      REINS_WAKE_MODE: "direct",
      ANTHROPIC_API_KEY: "bench-key",
      ANTHROPIC_BASE_URL: fake.url,
      ...observabilityEnv(mode, "harness", sink.url),
    },
  });
  const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: session.url }));
  const harnessClient = createClient(HarnessService, createGrpcTransport({ baseUrl: harness.url }));
  return {
    daemons: [session, harness],
    async session() {
      const t0 = performance.now();
      const { sessionId } = await harnessClient.startSession({ config, message: "go" });
      for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n })) {
        if (event?.payload.case === "sessionStatus" && event.payload.value.state === RunState.IDLE) break;
      }
      const perTurn = (performance.now() - t0) / turnsPerSession;
      await sessions.deleteSession({ sessionId });
      return perTurn;
    },
    async [Symbol.asyncDispose]() {
      await harness.kill("SIGTERM");
      await session.kill("SIGTERM");
    },
  };
}

await using off = await startStack("off");
await using on = await startStack("on");
const stacks = { off, on };
for (const d of off.daemons) if (d.metricsUrl !== undefined) throw new Error("an off daemon serves metrics");
const onMetrics = on.daemons.map((d) => d.metricsUrl);
if (onMetrics.some((u) => u === undefined)) throw new Error("an on daemon serves no metrics");
await using scraper = startScraper(onMetrics as string[]);

// Warm-up: connections, JIT.
for (const stack of [off, on]) for (let i = 0; i < 2; i++) await stack.session();

console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (2 cores, shared: read the ratio)`,
);
await compareOnOff(
  `Time per turn (sessions of ${turnsPerSession} turns, instant model and tools)`,
  rounds,
  async (mode) => {
    const samples: number[] = [];
    for (let i = 0; i < sessionsPerRound; i++) samples.push(await stacks[mode].session());
    return samples;
  },
  (mode) => stacks[mode].daemons.reduce((sum, d) => sum + cpuMsOf(d.pid), 0),
);
console.log(
  `  scrapes of the on daemons: ${scraper.scrapes()} (failed ${scraper.failures()}); OTLP requests received: ${sink.requests()}`,
);
