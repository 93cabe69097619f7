import { createInterface } from "node:readline";
import { daemonEntry, listeningMetricsUrl, listeningUrl } from "@reins/launch";
import { execa, type ResultPromise } from "execa";

export interface DaemonOptions {
  /** App name under apps/: "session", "executor" or "harness". */
  app: string;
  /** Environment for the daemon. It starts from an EMPTY environment plus PATH
   * and HOME: what a daemon needs must be passed explicitly. */
  env?: Record<string, string | undefined>;
  /** How long to wait for the "listening" line. */
  timeoutMs?: number;
}

export interface Daemon extends AsyncDisposable {
  /** URL from the daemon's "listening" log line. */
  readonly url: string;
  /** Where it serves Prometheus metrics (the listening line's `metrics`); undefined when they are off. */
  readonly metricsUrl: string | undefined;
  readonly pid: number;
  /** Every stdout/stderr line so far (JSON log entries as text). */
  readonly output: string[];
  /** Sends a signal and waits for exit (SIGKILL by default: a crash). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT without waiting. */
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<unknown>;
}

/**
 * Spawns a built daemon (`node apps/<app>/dist/main.js`) as a real process and
 * resolves once it logs `{"msg":"listening","url":...}`.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const child: ResultPromise = execa(process.execPath, [daemonEntry(options.app)], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REINS_LOG_LEVEL: "debug",
      // A free port each, even for a daemon given a fixed one: runs in parallel never share the defaults.
      REINS_SESSION_METRICS_LISTEN: "127.0.0.1:0",
      REINS_HARNESS_METRICS_LISTEN: "127.0.0.1:0",
      REINS_EXECUTOR_METRICS_LISTEN: "127.0.0.1:0",
      ...options.env,
    },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    buffer: false,
    cleanup: true,
  });
  const output: string[] = [];
  let metricsUrl: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.app} did not start listening:\n${output.join("\n")}`)),
      options.timeoutMs ?? 20_000,
    );
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        output.push(line);
        const url = listeningUrl(line);
        if (url === undefined) return;
        metricsUrl = listeningMetricsUrl(line);
        clearTimeout(timer);
        resolve(url);
      });
    }
    void child.then(() => {
      clearTimeout(timer);
      reject(new Error(`${options.app} exited before listening:\n${output.join("\n")}`));
    });
  });
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await child;
  };
  return {
    url,
    metricsUrl,
    pid: child.pid ?? -1,
    output,
    kill,
    signal: (s) => child.kill(s),
    exited: child,
    [Symbol.asyncDispose]: () => kill("SIGTERM"),
  };
}
