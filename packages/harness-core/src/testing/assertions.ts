import { type Event, eventNameOf } from "@reins/proto";
import { createSessionFold } from "../log/index.js";

/** Event names in log order, e.g. ["session.created", "user.message", ...]. */
export function names(events: readonly Event[]): string[] {
  return events.map(eventNameOf);
}

/** The conversation a session's log folds into. */
export function transcript(sessionId: string, events: readonly Event[]) {
  return createSessionFold(sessionId, events).conversation();
}

/** Ids that appear more than once, and gaps in seq. Both must be empty. */
export function logProblems(events: readonly Event[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  events.forEach((event, i) => {
    if (seen.has(event.id)) problems.push(`duplicate event id ${event.id}`);
    seen.add(event.id);
    if (event.seq !== BigInt(i + 1)) problems.push(`event ${i} has seq ${event.seq}`);
  });
  return problems;
}

export { toolPairingProblems } from "@reins/testkit";
