import type { ModelRequestStats } from "./model/index.js";

/** Where a tool call ran: an executor's sandbox, a host tool, an MCP server, or the client (custom). */
export type ToolKind = "executor" | "host" | "mcp" | "custom";

/** What became of a wake delivery (wake-queue.ts): done (acked), retry (the run failed), rescheduled, hand_back, lost. */
export type WakeResult = "done" | "retry" | "rescheduled" | "hand_back" | "lost";

/**
 * What the harness reports as it works, for the daemon to turn into metrics:
 * harness-core does not depend on a metrics library (apps/harness implements
 * this with prom-client and caps the caller-fed labels: model, tenant). No
 * method takes a session id. Every method is cheap and must not throw.
 */
export interface HarnessMetrics {
  /** A run of the agent loop started; `runEnded` follows it with how it ended (RunOutcome's kind, or "failed"). */
  runStarted(): void;
  runEnded(outcome: string): void;
  /**
   * One model request, answered or not: outcome "ok", "aborted" (an interrupt) or
   * the ModelError kind ("rate_limited", "overloaded", ...). `stats` is
   * undefined when the request failed before reporting any.
   */
  modelRequest(model: string, outcome: string, stats: ModelRequestStats | undefined, tenant: string): void;
  /**
   * One tool call: outcome "ok", "error" (its result is an error), "host_lost"
   * (its sandbox host was lost under it), "failed" (no result). `seconds` is how
   * long it ran, for those the harness ran; a custom tool's result arrives from
   * the client, and only counts.
   */
  toolCall(kind: ToolKind, outcome: "ok" | "error" | "host_lost" | "failed", seconds?: number): void;
  /** A compaction of the context (reason "threshold" or "prompt_too_long"), done or failed. */
  compaction(reason: string, ok: boolean): void;
  /** A wake delivery this replica took (redelivered: not its first delivery) and what became of it. */
  wakeTaken(redelivered: boolean): void;
  wakeFinished(result: WakeResult): void;
}

export const noHarnessMetrics: HarnessMetrics = {
  runStarted: () => undefined,
  runEnded: () => undefined,
  modelRequest: () => undefined,
  toolCall: () => undefined,
  compaction: () => undefined,
  wakeTaken: () => undefined,
  wakeFinished: () => undefined,
};
