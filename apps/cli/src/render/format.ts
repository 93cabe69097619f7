import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { RunState, StopReason, type Usage } from "@reins/proto";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567". */
export function formatCount(n: number | bigint): string {
  return integer.format(n);
}

/** Dollars with enough digits to be meaningful for cheap sessions: $0.0042, $1.23. */
export function formatCost(usd: number): string {
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  if (usd < 100) return `$${usd.toFixed(2)}`;
  return `$${integer.format(usd)}`;
}

export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

/** 12 -> "12ms", 1234 -> "1.2s", 75000 -> "1m15s". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

export function formatDuration(d: Duration | undefined): string {
  const ms = durationMs(d);
  return ms === undefined ? "" : formatMs(ms);
}

export function timestampMs(t: Timestamp | undefined): number | undefined {
  if (!t) return undefined;
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

/** Local wall-clock time of day, "14:03:27.120". */
export function formatClock(t: Timestamp | undefined): string {
  const ms = timestampMs(t);
  if (ms === undefined) return "--:--:--.---";
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** "just now", "42s ago", "5m ago", "3h ago", "2d ago"; dates beyond a week. */
export function formatAge(t: Timestamp | undefined, nowMs: number): string {
  const ms = timestampMs(t);
  if (ms === undefined) return "";
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 7 * 86_400) return `${Math.floor(s / 86_400)}d ago`;
  return new Date(ms).toISOString().slice(0, 10);
}

/** STOP_REASON_END_TURN -> "end_turn"; "" for UNSPECIFIED. */
export function stopReasonName(reason: StopReason): string {
  if (reason === StopReason.UNSPECIFIED) return "";
  return (StopReason[reason] ?? `stop_reason_${reason}`).toLowerCase();
}

/** RUN_STATE_IDLE -> "idle". */
export function runStateName(state: RunState): string {
  if (state === RunState.UNSPECIFIED) return "unknown";
  return (RunState[state] ?? `state_${state}`).toLowerCase();
}

export function parseRunState(name: string): RunState | undefined {
  const key = name.trim().toUpperCase() as keyof typeof RunState;
  const value = RunState[key];
  return typeof value === "number" && value !== RunState.UNSPECIFIED ? value : undefined;
}

export function totalTokens(u: Usage | undefined): bigint {
  if (!u) return 0n;
  return u.inputTokens + u.outputTokens + u.cacheCreationInputTokens + u.cacheReadInputTokens;
}

/** "1,200 in · 340 out · 900 cached" (cache parts only when non-zero). */
export function formatUsage(u: Usage | undefined): string {
  if (!u) return "no usage";
  const parts = [`${formatCount(u.inputTokens)} in`, `${formatCount(u.outputTokens)} out`];
  if (u.cacheReadInputTokens > 0n) parts.push(`${formatCount(u.cacheReadInputTokens)} cache read`);
  if (u.cacheCreationInputTokens > 0n) parts.push(`${formatCount(u.cacheCreationInputTokens)} cache write`);
  return parts.join(" · ");
}
