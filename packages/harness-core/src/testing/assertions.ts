import { type Event, eventNameOf } from "@reins/proto";
import type { CapturedRequest } from "@reins/testkit";
import { createSessionFold } from "../fold.js";

type Json = Record<string, unknown>;

/**
 * Problems with tool pairing in the requests a model received: every assistant
 * tool_use must be answered, in order, by a tool_result opening the next user
 * message. Empty when all is well.
 */
export function toolPairingProblems(requests: readonly CapturedRequest[]): string[] {
  const problems: string[] = [];
  for (const request of requests) {
    const messages = (request.body?.messages ?? []) as Json[];
    messages.forEach((message, i) => {
      if (message.role !== "assistant" || !Array.isArray(message.content)) return;
      const uses = (message.content as Json[]).filter((b) => b.type === "tool_use").map((b) => String(b.id));
      if (uses.length === 0) return;
      const next = messages[i + 1];
      const results = Array.isArray(next?.content)
        ? (next.content as Json[])
            .slice(0, uses.length)
            .map((b) => (b.type === "tool_result" ? String(b.tool_use_id) : ""))
        : [];
      if (next?.role !== "user" || results.join() !== uses.join()) {
        problems.push(
          `request ${request.index}, message ${i}: tool_use ${uses.join()} answered by [${results.join()}]`,
        );
      }
    });
  }
  return problems;
}

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
