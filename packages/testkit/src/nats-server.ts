import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { findNatsServer, freePort, portInUse } from "@reins/launch";
import { execa, type ResultPromise } from "execa";

export interface NatsServerOptions {
  /** Reuse a store dir (e.g. to restart after SIGKILL); default: a fresh temp dir. */
  storeDir?: string;
  /** Fixed client port; default: a free one. */
  port?: number;
  /** Extra command-line arguments. */
  args?: string[];
}

/**
 * A real nats-server with JetStream on a loopback port and a temp store dir, as
 * nats.js's own test launcher does. `kill()` and `restart()` let fault tests
 * SIGKILL it and bring it back on the same store; dispose removes everything.
 */
export interface NatsServer extends AsyncDisposable {
  readonly port: number;
  /** "nats://127.0.0.1:<port>" */
  readonly url: string;
  readonly storeDir: string;
  readonly pid: number | undefined;
  /** SIGKILL: no shutdown, no flush; the OS keeps written pages. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The binary `reins up` runs; when there is none, the name asked for, so spawning fails naming it. */
export const natsBinary = findNatsServer() ?? process.env.NATS_SERVER_BIN ?? "nats-server";

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(path.join(tmpdir(), "reins-nats-")));
  const port = options.port ?? (await freePort());
  let child: ResultPromise | undefined;

  const launch = async () => {
    child = execa(
      natsBinary,
      ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...(options.args ?? [])],
      {
        reject: false,
        stdio: "ignore",
        cleanup: true,
      },
    );
    await waitForPort(port, child);
  };
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill(signal);
    await running;
  };
  const stop = async () => {
    await kill("SIGTERM");
    if (ownsStore) await rm(storeDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    get pid() {
      return child?.pid;
    },
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Resolves once something accepts TCP connections on the port; rejects if `child` exits first. */
export async function waitForPort(port: number, child?: ResultPromise, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child?.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`process exited before listening on port ${port}`);
    if (await portInUse(port)) return;
    // Polling is the only signal a foreign process gives that it listens.
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}
