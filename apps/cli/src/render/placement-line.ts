import type { SessionPlaced } from "@reins/proto";

/**
 * One line for a placement of the session on a sandbox host: where its calls go
 * now, and why (its first call, or what became of the host before). The same
 * in `run`, `watch` and `events`.
 */
export function placementLine(v: SessionPlaced): string {
  const where = `${v.executorId} (${v.executorAddress})`;
  const moved = v.previousExecutorId !== "" ? `moved from ${v.previousExecutorId} to ${where}` : `placed on ${where}`;
  return v.reason !== "" ? `${moved}: ${v.reason}` : moved;
}
