import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { CliError } from "../cli-error.js";

/** One process `reins up` started. */
export interface ServiceRecord {
  /** "nats", "model", "session", "executor", "harness", "console". */
  readonly name: string;
  readonly url: string;
  /** Where the daemon serves Prometheus metrics; absent for nats and the model, or when they are off. */
  readonly metricsUrl?: string;
  readonly pid: number;
  /** Log file of the process. */
  readonly log: string;
  /** Start time of the process (see processStartTime), to recognise it: pids get reused. */
  readonly startTime: string | undefined;
}

/** What `reins up` writes so other commands find (and `reins down` stops) the stack. */
export interface StackState {
  readonly version: 1;
  /** The `reins up` process that owns the stack, or undefined when it detached. */
  readonly up: { readonly pid: number; readonly startTime: string | undefined } | undefined;
  readonly startedAt: string;
  readonly stateDir: string;
  readonly tokenFile: string;
  readonly dockerHost: string;
  /** scripts/ensure-docker.sh started a private dockerd for this stack. */
  readonly dockerStarted: boolean;
  /** In start order; stopped in reverse. */
  readonly services: readonly ServiceRecord[];
}

export async function readState(file: string): Promise<StackState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
  try {
    const state = JSON.parse(text) as StackState;
    if (state.version !== 1 || !Array.isArray(state.services)) throw new Error("unknown format");
    return state;
  } catch (err) {
    throw new CliError(`${file} is not a reins state file (${(err as Error).message}); remove it`, 1, {
      cause: err,
    });
  }
}

/** Written to a temp file then renamed, so a reader never sees half a state. */
export async function writeState(file: string, state: StackState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}
