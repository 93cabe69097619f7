import type { AgentToolResult } from "@reins/proto";

/**
 * Where the model's view of a session starts: the latest
 * `agent.context_compacted`. The view is its summary (if any), then every turn
 * after `lastSeq`, with each tool result up to `clearedThroughSeq` shown as a
 * marker. All of it comes from the log, so every replica builds the same view
 * and the prompt cache holds across replicas.
 */
export interface ViewCheckpoint {
  /** Seq of the compaction event itself (0 for one not written yet). */
  readonly seq: bigint;
  readonly summary: string;
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  readonly clearedThroughSeq: bigint;
}

/** How a summary opens the view. */
export function summaryText(checkpoint: Pick<ViewCheckpoint, "summary" | "firstSeq" | "lastSeq">): string {
  return `[This is a summary of the conversation so far (session events ${checkpoint.firstSeq}..${checkpoint.lastSeq}), written when it grew too long for the context window:]\n\n${checkpoint.summary}`;
}

/** What the model reads in place of a cleared tool result: what it was, not what it said. */
export function clearedResultText(result: AgentToolResult): string {
  const size = Buffer.byteLength(result.output, "utf8");
  const exit = result.exitCode !== 0 ? `, exit code ${result.exitCode}` : "";
  const status = result.isError ? "failed" : "succeeded";
  return `[output cleared to save context: the ${result.name || "tool"} call ${status}${exit}, ${size} bytes of output; run it again if you need it]`;
}

/** The instruction that ends a summary request. */
export const summaryInstruction =
  "Summarize the conversation so far, for yourself to continue the task from: the user's requests and " +
  "constraints, what has been done and found (files, commands, results, decisions), what failed, and what " +
  "is left to do. Be specific and complete, but concise. Answer with the summary only, and do not call tools.";
