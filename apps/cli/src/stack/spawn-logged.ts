import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { CliError, InterruptedError } from "../cli-error.js";
import { watchLog } from "./log-watch.js";

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  /** Returns the service URL once a log line shows the process is ready. */
  readonly ready: (line: string) => string | undefined;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface Spawned {
  readonly name: string;
  readonly url: string;
  /** The log line that said the process is ready (a daemon's `listening` line). */
  readonly readyLine: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with a description of how the process ended. */
  readonly exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<"stopped" | "killed" | "gone">;
}

/**
 * Starts a process in its own process group (so the terminal's Ctrl-C reaches
 * only `reins up`, which then stops the stack in order), with its output in a
 * log file that outlives us, and waits for the line that says it is ready.
 */
export async function spawnLogged(options: SpawnOptions): Promise<Spawned> {
  const fd = openSync(options.logFile, "a");
  const offset = statSync(options.logFile).size;
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      env: options.env,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  let exitedWith: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      exitedWith = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve(exitedWith);
    });
    child.once("error", (err) => {
      exitedWith = `could not start: ${err.message}`;
      resolve(exitedWith);
    });
  });
  const stop = async (graceMs: number) => {
    if (exitedWith !== undefined) return "gone" as const;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const killed = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (!killed) return "stopped" as const;
    child.kill("SIGKILL");
    await exited;
    return "killed" as const;
  };

  let onReady: (url: string) => void = () => {};
  let readyLine = "";
  const log = watchLog(options.logFile, offset, (line) => {
    const url = options.ready(line);
    if (url === undefined) return;
    readyLine = line;
    onReady(url);
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(failure(`did not become ready within ${options.timeoutMs / 1000}s`)),
        options.timeoutMs,
      );
      const abort = () => reject(new InterruptedError(`interrupted while starting ${options.name}`));
      options.signal?.addEventListener("abort", abort, { once: true });
      void exited.then((how) => reject(failure(how)));
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", abort);
      };
      onReady = (u) => {
        cleanup();
        resolve(u);
      };
    });
    return {
      name: options.name,
      url,
      readyLine,
      pid: child.pid ?? -1,
      logFile: options.logFile,
      child,
      exited,
      stop,
    };
  } catch (err) {
    await stop(2_000);
    throw err;
  } finally {
    log.close();
  }

  function failure(how: string): CliError {
    return new CliError(`${options.name} ${how} (log: ${options.logFile})`, 1, {
      details: lastLines(options.logFile, offset, 5),
    });
  }
}

// Read afresh rather than from the watcher: a process that just died may have
// written its last words after the watcher's latest read.
function lastLines(file: string, offset: number, n: number): string[] {
  try {
    const text = readFileSync(file).subarray(offset).toString("utf8").trimEnd();
    return text ? text.split("\n").slice(-n) : [];
  } catch {
    return [];
  }
}
