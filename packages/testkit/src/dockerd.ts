import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { execa, type ResultPromise } from "execa";
import { connectDocker, copyImage } from "./docker.js";

export interface DockerdOptions {
  /** Images to copy in from the engine tests normally use (e.g. "reins/sandbox-tiny"). */
  images?: string[];
  /** The engine to copy images from; default connectDocker(). */
  source?: Docker;
  /** How long to wait for the daemon to answer. */
  timeoutMs?: number;
}

/**
 * A private dockerd owned by one test: its own socket, data root, exec root and
 * pidfile in a temp dir, no bridge and no iptables. Fault tests stop and restart
 * it without touching the engine everyone else shares.
 */
export interface Dockerd extends AsyncDisposable {
  /** "unix:///tmp/.../docker.sock" */
  readonly host: string;
  readonly socketPath: string;
  readonly docker: Docker;
  readonly pid: number | undefined;
  /** SIGTERM and wait for exit (running containers are stopped by dockerd itself). */
  stop(): Promise<void>;
  /** Starts it again on the same socket and data root. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

export async function startDockerd(options: DockerdOptions = {}): Promise<Dockerd> {
  // Short paths: containerd's sockets live under the exec root and unix socket paths max out at 108 bytes.
  const dir = await mkdtemp("/tmp/rdd-");
  const socketPath = path.join(dir, "docker.sock");
  const host = `unix://${socketPath}`;
  const configFile = path.join(dir, "daemon.json");
  await writeFile(configFile, "{}\n");
  const docker = connectDocker(host);
  let child: ResultPromise | undefined;
  let driver = "overlay2";
  const output: string[] = [];

  const launch = async (storageDriver: string) => {
    const args = [
      "--host",
      host,
      "--config-file",
      configFile,
      "--data-root",
      path.join(dir, "data"),
      "--exec-root",
      path.join(dir, "x"),
      "--pidfile",
      path.join(dir, "docker.pid"),
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
      "--userland-proxy=false",
      "--shutdown-timeout=5",
      "--storage-driver",
      storageDriver,
      "--log-level",
      "warn",
    ];
    const proc = execa("dockerd", args, { reject: false, stdin: "ignore", all: true, buffer: false, cleanup: true });
    child = proc;
    proc.all?.on("data", (d: Buffer) => output.push(d.toString()));
    let exited = false;
    void proc.then(() => {
      exited = true;
    });
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      if (exited) throw new Error(`dockerd (${storageDriver}) exited:\n${output.join("").slice(-2000)}`);
      try {
        await docker.ping();
        return;
      } catch {
        // not answering yet; dockerd gives no other readiness signal
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`dockerd did not answer on ${host} within ${options.timeoutMs ?? 60_000} ms`);
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 30_000);
    await running;
    clearTimeout(timer);
  };

  const dispose = async () => {
    await stop();
    await releaseLeftovers(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };

  try {
    try {
      await launch(driver);
    } catch {
      await stop();
      driver = "vfs";
      await launch(driver);
    }
    const source = options.source ?? connectDocker();
    for (const image of options.images ?? []) await copyImage(source, docker, image);
  } catch (err) {
    await dispose();
    throw err;
  }

  return {
    host,
    socketPath,
    docker,
    get pid() {
      return child?.pid;
    },
    stop,
    start: () => launch(driver),
    restart: async () => {
      await stop();
      await launch(driver);
    },
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * A dockerd that could not stop its containers in time leaves containerd shims
 * running and overlay mounts under its data root. Everything here lives under
 * our own temp dir, so nothing outside this launcher is touched.
 */
async function releaseLeftovers(dir: string): Promise<void> {
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(`${dir}/`)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  const mounts = (await readFile("/proc/mounts", "utf8").catch(() => ""))
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target.startsWith(`${dir}/`))
    .sort()
    .reverse();
  for (const target of mounts) await execa("umount", ["-l", target], { reject: false });
}
