import http from "node:http";
import type { AddressInfo } from "node:net";

/** Observability of the daemons under measurement: none at all, or metrics scraped and traces exported. */
export type ObservabilityMode = "off" | "on";

/**
 * What a daemon (`app`: session, harness, executor) is started with in each mode.
 * Off: its metrics listener off and no OTEL_* variable. On: metrics on a free
 * port (scraped, see startScraper) and traces exported over OTLP/HTTP to
 * `otlpEndpoint` (a sink that drops them), so whatever tracing the daemon
 * implements runs at full cost.
 */
export function observabilityEnv(
  mode: ObservabilityMode,
  app: string,
  otlpEndpoint: string,
): Record<string, string | undefined> {
  const metrics = `REINS_${app.toUpperCase()}_METRICS_LISTEN`;
  if (mode === "off") return { [metrics]: "off" };
  return {
    [metrics]: "127.0.0.1:0",
    OTEL_SERVICE_NAME: `reins-${app}`,
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_BSP_SCHEDULE_DELAY: "1000",
  };
}

/** An OTLP/HTTP endpoint that reads every request and answers 200: the exporters' cost without a collector's. */
export async function startOtlpSink(): Promise<{ url: string; requests(): number } & AsyncDisposable> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests++;
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Reads each URL's /metrics every `everyMs`, as Prometheus would (more often
 * than its usual 15 s, so that the cost of collecting shows). Counts scrapes and failures.
 */
export function startScraper(
  urls: readonly string[],
  everyMs = 1_000,
): { scrapes(): number; failures(): number } & AsyncDisposable {
  let scrapes = 0;
  let failures = 0;
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = Promise.all(
      urls.map(async (url) => {
        try {
          const res = await fetch(url);
          await res.text();
          if (res.ok) scrapes++;
          else failures++;
        } catch {
          if (!stopped) failures++;
        }
      }),
    ).then(() => undefined);
  }, everyMs);
  return {
    scrapes: () => scrapes,
    failures: () => failures,
    async [Symbol.asyncDispose]() {
      stopped = true;
      clearInterval(timer);
      await pending;
    },
  };
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Runs `measure` for off and on in `rounds` rounds, the order alternating each
 * round (off-on, on-off, ...) so that warm-up and drifting load fall on both
 * alike, and prints p50/p95 of each and the on/off ratios. With `cpuMs` (the
 * CPU time the mode's daemons have used so far), also the daemons' CPU per
 * sample: on a shared machine latency mostly measures the neighbours, CPU time
 * much less so.
 */
export async function compareOnOff(
  label: string,
  rounds: number,
  measure: (mode: ObservabilityMode) => Promise<number[]>,
  cpuMs?: (mode: ObservabilityMode) => number,
): Promise<{ off: number[]; on: number[] }> {
  const samples: Record<ObservabilityMode, number[]> = { off: [], on: [] };
  const cpu: Record<ObservabilityMode, number> = { off: 0, on: 0 };
  for (let round = 0; round < rounds; round++) {
    const order: ObservabilityMode[] = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
    for (const mode of order) {
      const before = cpuMs?.(mode) ?? 0;
      samples[mode].push(...(await measure(mode)));
      cpu[mode] += (cpuMs?.(mode) ?? 0) - before;
    }
  }
  const row = (mode: ObservabilityMode) => {
    const s = samples[mode];
    return `${mode.padEnd(4)} p50 ${percentile(s, 50).toFixed(2).padStart(8)} ms   p95 ${percentile(s, 95).toFixed(2).padStart(8)} ms   (${s.length} samples)`;
  };
  const ratio = (p: number) => percentile(samples.on, p) / percentile(samples.off, p);
  console.log(`\n${label}, observability off vs on (metrics scraped + OTLP traces), ${rounds} interleaved rounds`);
  console.log(`  ${row("off")}`);
  console.log(`  ${row("on")}`);
  console.log(`  on/off   p50 ${ratio(50).toFixed(3)}x   p95 ${ratio(95).toFixed(3)}x`);
  if (cpuMs) {
    const per = (mode: ObservabilityMode) => cpu[mode] / samples[mode].length;
    console.log(
      `  daemons' CPU per sample: off ${per("off").toFixed(3)} ms, on ${per("on").toFixed(3)} ms, on/off ${(per("on") / per("off")).toFixed(3)}x`,
    );
  }
  return samples;
}
