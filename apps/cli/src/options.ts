import { InvalidArgumentError } from "commander";

/** The states `reins sessions --state` filters by. */
export const runStateNames = ["running", "rescheduling", "idle", "terminated"] as const;
export type RunStateName = (typeof runStateNames)[number];

/** Commander parser for a non-negative integer option (rejects "12abc", "-1", "1.5"). */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("expected a whole number (0, 1, 2, ...)");
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError("number too large");
  return n;
}

/** Commander parser for a positive integer. */
export function parsePositive(value: string): number {
  const n = parseCount(value);
  if (n === 0) throw new InvalidArgumentError("must be at least 1");
  return n;
}

/** "30s", "5m", "1h", "1500ms" or plain seconds -> milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a duration like "90s", "5m" or "1h"');
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * factor);
}

/** "bash,python" or repeated --tools flags -> ["bash", "python"]. */
export function collectList(value: string, previous: string[] = []): string[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return [...previous, ...names];
}

/** Session ids as DESIGN.md defines them; checked locally for a clear usage error. */
export function parseSessionId(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw new InvalidArgumentError("session ids are 1-64 characters of A-Z, a-z, 0-9, _ and -");
  }
  return value;
}
