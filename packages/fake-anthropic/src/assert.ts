import type { CapturedRequest } from "./types.js";

type Json = Record<string, unknown>;

/**
 * Problems with tool pairing in the requests a model received: every assistant
 * tool_use must be answered, in tool_use order, by a tool_result opening the
 * next user message. Empty when all is well; meant for
 * `expect(toolPairingProblems(fake.requests)).toEqual([])`.
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
