import type { Event } from "@reins/proto";

/**
 * What must hold for every session log, whatever crashed while it was written:
 * seqs 1..n with no gap, unique event ids, every tool_use of an agent.message
 * answered by exactly one agent.tool_result (and no result without its call),
 * and no tool executed twice for a call whose result the log records as run
 * (`executions` are "sessionId/callId" keys, one per finished execution).
 */
export function logInvariantProblems(sessionId: string, events: readonly Event[], executions: readonly string[]) {
  const problems: string[] = [];
  const ids = new Set<string>();
  const calls = new Set<string>();
  const results = new Map<string, number>();
  events.forEach((event, i) => {
    if (ids.has(event.id)) problems.push(`${sessionId}: duplicate event id ${event.id}`);
    ids.add(event.id);
    if (event.seq !== BigInt(i + 1)) problems.push(`${sessionId}: event ${i + 1} has seq ${event.seq}`);
    const { payload } = event;
    if (payload.case === "agentMessage") {
      for (const block of payload.value.content) {
        if (block.block.case !== "toolUse") continue;
        const id = block.block.value.id;
        if (calls.has(id)) problems.push(`${sessionId}: tool_use ${id} appears twice`);
        calls.add(id);
      }
    }
    if (payload.case === "agentToolResult") {
      const id = payload.value.toolUseId;
      if (!calls.has(id)) problems.push(`${sessionId}: result for unknown tool_use ${id}`);
      results.set(id, (results.get(id) ?? 0) + 1);
    }
  });
  for (const id of calls) {
    const n = results.get(id) ?? 0;
    if (n !== 1) problems.push(`${sessionId}: tool_use ${id} has ${n} results`);
  }
  const runs = new Map<string, number>();
  for (const key of executions) if (key.startsWith(`${sessionId}/`)) runs.set(key, (runs.get(key) ?? 0) + 1);
  for (const [key, n] of runs) if (n > 1) problems.push(`${key} executed ${n} times`);
  return problems;
}

/**
 * Events the test saw acknowledged must all be in the log read back, unchanged
 * and at the same seq: nothing acked is lost or rewritten.
 */
export function lostAcked(acked: readonly Event[], readBack: readonly Event[]): string[] {
  const byId = new Map(readBack.map((e) => [e.id, e]));
  return acked
    .filter((e) => byId.get(e.id)?.seq !== e.seq)
    .map((e) => `event ${e.id} acked at seq ${e.seq} is ${byId.has(e.id) ? "moved" : "missing"}`);
}
