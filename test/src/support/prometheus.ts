import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "@reins/testkit";
import { execa } from "execa";

/** One result of an instant PromQL query: its labels and value. */
export interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * A real Prometheus (Debian's `prometheus`) on a free loopback port with a temp
 * TSDB, scraping `targets` (job name -> metrics URL) every second.
 */
export interface Prometheus extends AsyncDisposable {
  readonly url: string;
  /** An instant query through the HTTP API. */
  query(promql: string): Promise<Sample[]>;
  /** Resolves once every target has been scraped, healthy, after `since` (ms since epoch). */
  scrapedSince(since: number, timeoutMs?: number): Promise<void>;
}

export async function startPrometheus(targets: Record<string, string>): Promise<Prometheus> {
  const dir = await mkdtemp(path.join(tmpdir(), "reins-prometheus-"));
  const port = await freePort();
  const jobs = Object.entries(targets).map(([job, url]) => {
    const { host, pathname } = new URL(url);
    return `  - job_name: ${job}\n    metrics_path: ${pathname}\n    static_configs:\n      - targets: ["${host}"]`;
  });
  const config = path.join(dir, "prometheus.yml");
  await writeFile(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n${jobs.join("\n")}\n`,
  );
  const child = execa(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { reject: false, stdio: ["ignore", "ignore", "pipe"], cleanup: true },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await child;
    await rm(dir, { recursive: true, force: true });
  };
  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const res = await fetch(`${url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  };
  const poll = async (what: string, done: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited:\n${stderr}`);
      if (await done().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`Prometheus: ${what} did not happen in ${timeoutMs} ms:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  try {
    await poll("ready", async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(promql) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async scrapedSince(since, timeoutMs = 30_000) {
      await poll(
        `a healthy scrape of every target after ${new Date(since).toISOString()}`,
        async () => {
          const { activeTargets } = await api<{
            activeTargets: Array<{ health: string; lastScrape: string }>;
          }>("/api/v1/targets?state=active");
          return (
            activeTargets.length === Object.keys(targets).length &&
            activeTargets.every((t) => t.health === "up" && Date.parse(t.lastScrape) > since)
          );
        },
        timeoutMs,
      );
    },
    [Symbol.asyncDispose]: stop,
  };
}
