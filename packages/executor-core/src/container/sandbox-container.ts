import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { DockerFailure, toDockerFailure } from "../errors.js";
import { createOutputCollector, type StreamCapture } from "../output/index.js";
import { type ContainerProfile, containerCreateOptions } from "./container-spec.js";

export interface RunRequest {
  /** Script line plus the tool's stdin (see buildScript). */
  readonly delivery: Buffer;
  readonly nonce: string;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  readonly signal?: AbortSignal | undefined;
}

export interface RunOutcome {
  /** Exit code of the tool process; -1 when none is known. */
  readonly exitCode: number;
  readonly stdout: StreamCapture;
  readonly stderr: StreamCapture;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  readonly oomKilled: boolean;
  /** The tool kept writing far beyond its output cap and was stopped. */
  readonly flooded: boolean;
  /** Docker failed during the call. */
  readonly failure: DockerFailure | undefined;
}

/**
 * A created, attached and started container whose PID 1 waits on stdin. It runs
 * exactly one call; whoever holds it must hand it to the reaper afterwards.
 */
export interface SandboxContainer {
  readonly id: string;
  readonly profile: ContainerProfile;
  /** False once the container stopped or its attach stream broke while idle. */
  readonly alive: boolean;
  /** Called once if the container dies before run() (e.g. Docker restarted). */
  onDeath(listener: () => void): void;
  run(request: RunRequest): Promise<RunOutcome>;
}

// Past this multiple of the cap the process is stopped: its output is lost anyway
// and streaming gigabytes through the engine costs the whole host.
const floodFactor = 16;
// After a kill, how long Docker may take to end the stream before the call gives up on it.
const killGraceMs = 10_000;

/**
 * Creates, attaches and starts a hardened container for `profile`. On failure
 * any container already created is handed to `discard` and a DockerFailure is
 * thrown. `signal` aborts a cold start the caller no longer wants.
 */
export async function startSandboxContainer(
  docker: Docker,
  profile: ContainerProfile,
  labels: Record<string, string>,
  discard: (id: string) => void,
  signal?: AbortSignal,
): Promise<SandboxContainer> {
  let id: string | undefined;
  try {
    const container = await docker.createContainer(containerCreateOptions(profile, labels));
    id = container.id;
    signal?.throwIfAborted();
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    await container.start();
    return wrap(container, profile, stream);
  } catch (err) {
    if (id) discard(id);
    if (signal?.aborted) throw signal.reason;
    throw toDockerFailure(err, `starting a sandbox container from ${profile.image}`, profile.image);
  }
}

function wrap(container: Docker.Container, profile: ContainerProfile, stream: Duplex): SandboxContainer {
  let alive = true;
  let running = false;
  const deathListeners: Array<() => void> = [];
  const idleEnd = () => {
    if (running || !alive) return;
    alive = false;
    for (const listener of deathListeners) listener();
  };
  stream.on("end", idleEnd);
  stream.on("close", idleEnd);
  stream.on("error", idleEnd);

  const kill = () => container.kill({ signal: "SIGKILL" }).catch(() => {});

  // Only for a container that stopped without the script's trailer and that the
  // executor did not kill itself: the shell (PID 1) itself was killed.
  async function exitStatus(): Promise<{ exitCode: number; oomKilled: boolean }> {
    // The attach stream has ended, so the process is gone or going: "not-running" returns at once.
    const { StatusCode } = (await container.wait({ condition: "not-running" })) as { StatusCode: number };
    let oomKilled = false;
    if (StatusCode === 137) {
      oomKilled = await container.inspect().then(
        (info) => info.State.OOMKilled === true,
        () => false, // already auto-removed
      );
    }
    return { exitCode: StatusCode, oomKilled };
  }

  async function run(request: RunRequest): Promise<RunOutcome> {
    if (running) throw new Error("a sandbox container runs one call only");
    running = true;
    if (!alive) {
      throw toDockerFailure(
        Object.assign(new Error("container stopped"), { code: "ECONNRESET" }),
        "running the tool in a warm container",
      );
    }
    stream.off("end", idleEnd);
    stream.off("close", idleEnd);
    stream.off("error", idleEnd);

    let timedOut = false;
    let cancelled = false;
    let flooded = false;
    let streamError: unknown;
    let hardStop: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;

    const outcome = await new Promise<RunOutcome>((resolve) => {
      let settled = false;
      const collector = createOutputCollector({
        nonce: request.nonce,
        maxBytes: request.maxOutputBytes,
        onProgress: () => {
          if (collector.complete) void settleWith(collector.stdout.exitCode ?? -1, true);
          else if (!flooded && collector.totalBytes > request.maxOutputBytes * floodFactor + 1024 * 1024) {
            flooded = true;
            stopNow();
          }
        },
      });
      const base = () => ({ stdout: collector.stdout, stderr: collector.stderr, timedOut, cancelled, flooded });

      async function settleWith(exitCode: number, fromTrailer: boolean) {
        if (settled) return;
        settled = true;
        let oomKilled = false;
        let failure: DockerFailure | undefined;
        let code = exitCode;
        try {
          if (fromTrailer) oomKilled = collector.stdout.oomKills > 0;
          else if (timedOut || cancelled || flooded)
            code = 137; // our own SIGKILL
          else ({ exitCode: code, oomKilled } = await exitStatus());
        } catch (err) {
          failure = toDockerFailure(streamError ?? err, "waiting for the tool to finish");
          if (failure.kind === "not-found") {
            failure = new DockerFailure(
              "not-found",
              "the sandbox stopped before the tool finished (killed from outside or out of memory)",
              failure.code,
              { cause: err },
            );
          }
          code = -1;
        }
        resolve({ ...base(), exitCode: code, oomKilled, failure });
      }
      function stopNow() {
        void kill();
        hardStop ??= setTimeout(() => {
          if (settled) return;
          settled = true;
          collector.end();
          const failure = toDockerFailure(
            streamError ?? Object.assign(new Error("the engine did not stop the container"), { code: "ETIMEDOUT" }),
            "stopping the tool",
          );
          resolve({ ...base(), exitCode: -1, oomKilled: false, failure });
        }, killGraceMs);
      }
      const ended = () => {
        collector.end();
        if (collector.complete) void settleWith(collector.stdout.exitCode ?? -1, true);
        else void settleWith(-1, false);
      };

      stream.on("data", (chunk: Buffer) => collector.push(chunk));
      stream.once("end", ended);
      stream.once("close", ended);
      stream.once("error", (err) => {
        streamError = err;
        ended();
      });
      timer = setTimeout(() => {
        timedOut = true;
        stopNow();
      }, request.timeoutMs);
      onAbort = () => {
        cancelled = true;
        stopNow();
      };
      if (request.signal?.aborted) onAbort();
      else request.signal?.addEventListener("abort", onAbort, { once: true });

      stream.write(request.delivery);
      stream.end();
    });
    clearTimeout(timer);
    clearTimeout(hardStop);
    if (onAbort) request.signal?.removeEventListener("abort", onAbort);
    stream.destroy();
    return outcome;
  }

  return {
    id: container.id,
    profile,
    get alive() {
      return alive;
    },
    onDeath: (listener) => deathListeners.push(listener),
    run,
  };
}
