import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

/**
 * When the process started, in clock ticks since boot (field 22 of
 * /proc/<pid>/stat): with the pid it identifies a process for good, since a
 * reused pid has a later start time. Undefined without /proc.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is still the live (non-zombie) process recorded with
 * `startTime`: a pid from a state file may have been reused by something else,
 * which must never be signalled.
 */
export function isOurProcess(pid: number, startTime: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartTime(pid);
  return startTime === undefined || now === undefined || now === startTime;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie answers kill(0) until its parent reaps it; in containers whose
  // init does not reap, that is forever.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true;
  }
}

/**
 * Waits for a process we did not spawn to exit. Without a child handle there is
 * no exit event to await, so this polls, briefly.
 */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves with how it ended. */
export async function terminate(pid: number, graceMs: number): Promise<"stopped" | "killed" | "gone"> {
  if (!isAlive(pid)) return "gone";
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return "gone";
  }
  if (await waitForExit(pid, graceMs)) return "stopped";
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return "gone";
  }
  await waitForExit(pid, 5_000);
  return "killed";
}

/** How `terminate` / `Spawned.stop` outcomes read in progress lines. */
export const stopWords = {
  stopped: "stopped",
  killed: "killed after 10s (did not stop on SIGTERM)",
  gone: "had already exited",
};
