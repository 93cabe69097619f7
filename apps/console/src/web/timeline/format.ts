import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { RunState, StopReason, type Usage } from "@reins/proto";

/** `RUN_STATE_IDLE` as users read it: `idle`. */
export function stateName(state: RunState): string {
  return state === RunState.UNSPECIFIED ? "unknown" : (RunState[state] ?? String(state)).toLowerCase();
}

/** `STOP_REASON_REQUIRES_ACTION` as the log and the CLI name it: `requires_action`. */
export function stopReasonName(reason: StopReason): string {
  return reason === StopReason.UNSPECIFIED ? "" : (StopReason[reason] ?? String(reason)).toLowerCase();
}

const integer = new Intl.NumberFormat("en-US");

export function formatCount(n: bigint | number): string {
  return integer.format(n);
}

/** Input and output tokens, cache use when there is any. */
export function formatUsage(usage: Usage | undefined): string {
  if (!usage) return "no tokens";
  const parts = [`${formatCount(usage.inputTokens)} in`, `${formatCount(usage.outputTokens)} out`];
  if (usage.cacheReadInputTokens > 0n) parts.push(`${formatCount(usage.cacheReadInputTokens)} cache read`);
  if (usage.cacheCreationInputTokens > 0n) parts.push(`${formatCount(usage.cacheCreationInputTokens)} cache write`);
  return parts.join(" · ");
}

export function totalTokens(usage: Usage | undefined): bigint {
  if (!usage) return 0n;
  return usage.inputTokens + usage.outputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
}

/** Dollars with the precision small amounts need: $0.0073, $1.25. */
export function formatCost(usd: number): string {
  if (usd === 0) return "$0";
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function durationMs(d: Duration | undefined): number {
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 60
    ? `${minutes}m ${Math.round((ms % 60_000) / 1000)}s`
    : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function timestampMs(t: Timestamp | undefined): number | undefined {
  return t ? Number(t.seconds) * 1000 + t.nanos / 1e6 : undefined;
}

/** How long ago, coarsely: `12s`, `5m`, `3h`, `2d`. */
export function formatAge(t: Timestamp | undefined, now: number): string {
  const ms = timestampMs(t);
  if (ms === undefined) return "";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function formatTime(t: Timestamp | undefined): string {
  const ms = timestampMs(t);
  return ms === undefined ? "" : new Date(ms).toISOString().slice(11, 23);
}

/** Tool input as the model wrote it, indented when it is JSON. */
export function prettyJson(text: string): string {
  if (!text) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
