// Tracing benchmark: the cost of OpenTelemetry tracing on a session's turns,
// against the same turns with tracing off, measured in the same run.
//
// Sessions of 21 model turns (20 of them calling tools) run one at a time,
// alternating between tracing off, on, and on but unsampled, so drift in the machine's load falls
// on both alike. With tracing on the harness (in this process) exports to an
// OTLP/HTTP receiver, also in this process, which reads and drops each batch;
// the session daemon it writes to is one started with OTEL_EXPORTER_OTLP_ENDPOINT
// set, the other run's one without. The model (the fake Messages API, answering
// at once) and an executor that does no work run in this process too, so what
// is left of a turn is the harness, its appends and the spans of both.
//
//   pnpm bench tracing     (or: cd bench && node --conditions=@reins/source --import tsx src/tracing.bench.ts)
//
// REINS_BENCH_ROUNDS sets the sessions per mode (default 12). Needs nats-server and
// the built session daemon (`pnpm turbo run build --filter=@reins/session`).

import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { startFakeAnthropic } from "@reins/fake-anthropic";
import {
  createAnthropicAdapter,
  createExecutorPool,
  createHarnessServiceImpl,
  createNatsDeltaBus,
  createSessionRunner,
  withStreamedAppends,
} from "@reins/harness-core";
import { AgentConfigSchema, HarnessService, SessionService } from "@reins/proto";
import {
  bindService,
  createGrpcClientTransport,
  createTraceContextInterceptor,
  startServer,
  startTracing,
} from "@reins/service-kit";
import { type Daemon, startDaemon, startNatsServer } from "@reins/testkit";
import { connect, type NatsConnection } from "nats";
import { uuidv7 } from "uuidv7";
import { startNullExecutor, toolTurnsScript, turnsPerSession } from "./support/tool-turns.js";

const rounds = Number(process.env.REINS_BENCH_ROUNDS ?? 12);
const now = () => performance.now();

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** An OTLP/HTTP endpoint that accepts every export and keeps only its size. */
async function startDiscardingReceiver() {
  let bytes = 0;
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on("end", () => {
      exports++;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ bytes, exports }),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A harness in this process writing to `sessionDaemon`, as apps/harness wires it. */
async function startHarness(sessionDaemon: Daemon, nc: NatsConnection, modelUrl: string, executorUrl: string) {
  const sessions = withStreamedAppends(
    createClient(
      SessionService,
      createGrpcClientTransport({
        baseUrl: sessionDaemon.url,
        interceptors: [createTraceContextInterceptor()],
        acceptCompression: [],
      }),
    ),
  );
  const executors = createExecutorPool({ defaultAddress: executorUrl });
  const deltas = createNatsDeltaBus(nc);
  const model = createAnthropicAdapter({ apiKey: "bench", baseURL: modelUrl });
  const runner = createSessionRunner({ sessions, model, executors, deltas });
  const server = await startServer({
    services: [bindService(HarnessService, createHarnessServiceImpl({ sessions, executors, runner, deltas }))],
  });
  const harness = createClient(HarnessService, createGrpcTransport({ baseUrl: server.url }));
  const config = create(AgentConfigSchema, {
    model: "claude-bench",
    systemPrompt: "You are a benchmark.",
    toolDefinitions: [{ name: "bash", description: "run", inputSchemaJson: '{"type":"object"}' }],
  });
  return {
    /** One session from StartSession to idle: its time per turn, in ms. */
    async session(): Promise<number> {
      const sessionId = `bench-tracing-${uuidv7()}`;
      const start = now();
      await harness.startSession({ sessionId, config, message: "go" });
      await runner.runSession(sessionId);
      return (now() - start) / turnsPerSession;
    },
    async [Symbol.asyncDispose]() {
      await runner.close();
      await server.close();
      await sessions.close();
    },
  };
}

async function main() {
  await using nats = await startNatsServer();
  await using receiver = await startDiscardingReceiver();
  const sessionEnv = { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_LOG_LEVEL: "info" };
  await using plainSession = await startDaemon({ app: "session", env: sessionEnv });
  await using tracedSession = await startDaemon({
    app: "session",
    env: { ...sessionEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "reins-session-bench" },
  });
  await using fake = await startFakeAnthropic({ script: toolTurnsScript() });
  await using executor = await startNullExecutor();
  const nc = await connect({ servers: nats.url });
  await using plain = await startHarness(plainSession, nc, fake.url, executor.url);
  await using traced = await startHarness(tracedSession, nc, fake.url, executor.url);

  const off: number[] = [];
  const on: number[] = [];
  const unsampled: number[] = [];
  // Tracing in this process is switched on for the traced sessions only: the
  // global tracer is the API's no-op one the rest of the time, as in a daemon
  // without OTEL_*. Unsampled: the SDK is registered and context is carried, but
  // no span is recorded (OTEL_TRACES_SAMPLER=always_off), which splits the cost.
  const tracedSessionTime = async (sampler = "parentbased_always_on") => {
    const tracing = startTracing("reins-harness-bench", {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: sampler,
    });
    try {
      return await traced.session();
    } finally {
      // Flushes this session's spans: their export is part of what tracing costs.
      await tracing.shutdown();
    }
  };
  // Warm-up: connections, JIT, both paths.
  for (let i = 0; i < 2; i++) {
    await plain.session();
    await tracedSessionTime();
  }
  const before = receiver.stats();
  for (let i = 0; i < rounds; i++) {
    off.push(await plain.session());
    on.push(await tracedSessionTime());
    unsampled.push(await tracedSessionTime("always_off"));
  }
  const after = receiver.stats();
  await nc.close();

  const p50Off = percentile(off, 50);
  const p50On = percentile(on, 50);
  console.log(`Time per turn, ${rounds} sessions of ${turnsPerSession} turns per mode, interleaved`);
  console.log(`  tracing off:  p50 ${p50Off.toFixed(2)} ms  p95 ${percentile(off, 95).toFixed(2)} ms`);
  console.log(`  tracing on:   p50 ${p50On.toFixed(2)} ms  p95 ${percentile(on, 95).toFixed(2)} ms`);
  console.log(
    `  on, unsampled: p50 ${percentile(unsampled, 50).toFixed(2)} ms  p95 ${percentile(unsampled, 95).toFixed(2)} ms`,
  );
  console.log(`  ratio on/off (p50): ${(p50On / p50Off).toFixed(2)}`);
  console.log(`  ratio unsampled/off (p50): ${(percentile(unsampled, 50) / p50Off).toFixed(2)}`);
  console.log(
    `  received meanwhile: ${after.exports - before.exports} exports, ${((after.bytes - before.bytes) / 1024).toFixed(0)} KiB` +
      " (the harness's, and the session daemon's on its own timer)",
  );
}

await main();
