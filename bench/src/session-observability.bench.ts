// Append latency of the session daemon with observability off and on, in one run:
// two session daemons on one nats-server, one with its metrics listener off and
// no OTEL_* variables, one with metrics scraped every second and traces exported
// over OTLP/HTTP to a sink (support/observability.ts). AppendEvents, one event a
// call, alternating between the two in rounds.
//
//   pnpm bench session     (or: cd bench && node --conditions=@reins/source --import tsx src/session-observability.bench.ts)
//
// Needs nats-server and the built session daemon (`pnpm exec turbo run build`).

import { loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, EventSchema, SessionService } from "@reins/proto";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import {
  compareOnOff,
  type ObservabilityMode,
  observabilityEnv,
  startOtlpSink,
  startScraper,
} from "./support/observability.js";
import { cpuMsOf } from "./support/process-cpu.js";

const rounds = Number(process.env.REINS_BENCH_ROUNDS ?? 10);
const appendsPerRound = Number(process.env.REINS_BENCH_APPENDS ?? 200);
const text = "x".repeat(200);
const userMessage = (): Event =>
  create(EventSchema, { id: uuidv7(), payload: { case: "userMessage", value: { text } } });

await using nats = await startNatsServer();
await using sink = await startOtlpSink();
const daemons = {
  off: await startDaemon({
    app: "session",
    env: {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      ...observabilityEnv("off", "session", sink.url),
    },
  }),
  on: await startDaemon({
    app: "session",
    env: {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      ...observabilityEnv("on", "session", sink.url),
    },
  }),
};
await using _off = daemons.off;
await using _on = daemons.on;
if (daemons.off.metricsUrl !== undefined) throw new Error("the off daemon serves metrics");
if (daemons.on.metricsUrl === undefined) throw new Error("the on daemon serves no metrics");
await using scraper = startScraper([daemons.on.metricsUrl]);

const writers = Object.fromEntries(
  await Promise.all(
    (["off", "on"] as const).map(async (mode) => {
      const client = createClient(SessionService, createGrpcTransport({ baseUrl: daemons[mode].url }));
      const sessionId = `bench-${mode}-${uuidv7()}`;
      await client.createSession({ sessionId, config: { model: "bench" } });
      let last = 1n;
      const append = async () => {
        last = (await client.appendEvents({ sessionId, expectedLastSeq: last, events: [userMessage()] })).lastSeq;
      };
      return [mode, append] as const;
    }),
  ),
) as Record<ObservabilityMode, () => Promise<void>>;

// Warm-up: connections, JIT, the store's caches.
for (const mode of ["off", "on"] as const) for (let i = 0; i < 100; i++) await writers[mode]();

console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (2 cores, shared: read the ratio)`,
);
await compareOnOff(
  "AppendEvents (one event, unary gRPC)",
  rounds,
  async (mode) => {
    const samples: number[] = [];
    for (let i = 0; i < appendsPerRound; i++) {
      const t0 = performance.now();
      await writers[mode]();
      samples.push(performance.now() - t0);
    }
    return samples;
  },
  (mode) => cpuMsOf(daemons[mode].pid),
);
console.log(
  `  scrapes of the on daemon: ${scraper.scrapes()} (failed ${scraper.failures()}); OTLP requests received: ${sink.requests()}`,
);
