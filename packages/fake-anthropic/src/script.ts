import { assistantTurnsIn } from "./context.js";
import type { CapturedRequest, FakeReply, FakeScript, FakeTurn, MessagesRequestBody } from "./types.js";

/** A tool result as the model received it. */
export interface ReceivedToolResult {
  readonly toolUseId: string;
  readonly content: string;
  readonly isError: boolean;
}

type TurnSource = FakeReply | ((request: CapturedRequest) => FakeReply | Promise<FakeReply>);

/**
 * A script that answers by the conversation's position rather than by arrival
 * order: the n-th reply is the one for a conversation holding n assistant
 * messages. Retries, a resumed session on another process and a replayed
 * request all get the same answer for the same conversation, as they would from
 * a deterministic model. Past the end it answers `after` (default: a short
 * end_turn text).
 */
export function scriptTurns(turns: readonly TurnSource[], after?: FakeTurn): FakeScript {
  return (request) => {
    const n = assistantTurns(request.body);
    const turn = turns[n];
    if (turn === undefined) return after ?? { content: [{ type: "text", text: "Done." }] };
    return typeof turn === "function" ? turn(request) : turn;
  };
}

/**
 * Number of assistant turns a request's conversation stands for: its assistant
 * messages, plus those a summary made by this fake (see `summaryTurn`) replaced.
 */
export function assistantTurns(body: MessagesRequestBody | undefined): number {
  return assistantTurnsIn(body);
}

/** The tool results in the request's last user message, in order. */
export function lastToolResults(body: MessagesRequestBody | undefined): ReceivedToolResult[] {
  const last = messagesOf(body).at(-1);
  if (last?.role !== "user" || !Array.isArray(last.content)) return [];
  return last.content
    .filter((b): b is Record<string, unknown> => typeof b === "object" && b !== null && b.type === "tool_result")
    .map((b) => ({ toolUseId: String(b.tool_use_id), content: textOf(b.content), isError: b.is_error === true }));
}

/** Text of the request's last user message (text blocks joined). */
export function lastUserText(body: MessagesRequestBody | undefined): string {
  const last = messagesOf(body).at(-1);
  if (last?.role !== "user") return "";
  return textOf(last.content);
}

function messagesOf(body: MessagesRequestBody | undefined): Array<{ role?: unknown; content?: unknown }> {
  return Array.isArray(body?.messages) ? (body.messages as Array<{ role?: unknown; content?: unknown }>) : [];
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((b): b is { type: string; text: string } => typeof b === "object" && b?.type === "text")
    .map((b) => b.text)
    .join("");
}
