import type { AgentContextCompacted } from "@reins/proto";

/**
 * One line for a compaction of the model's view: tokens before -> after, and
 * what was done (events summarised, tool results cleared). The same in `run`,
 * `watch` and `events`.
 */
export function compactionLine(v: AgentContextCompacted): string {
  const n = (x: bigint) => Number(x).toLocaleString("en-US");
  const what: string[] = [];
  if (v.summary !== "") what.push(`summary of events ${v.firstSeq}..${v.lastSeq}`);
  if (v.toolResultsCleared > 0) what.push(`${v.toolResultsCleared} tool results cleared`);
  if (v.reason === "prompt_too_long") what.push("after a prompt-too-long refusal");
  return `context compacted: ${n(v.tokensBefore)} -> ${n(v.tokensAfter)} tokens${what.length ? ` (${what.join(", ")})` : ""}`;
}
