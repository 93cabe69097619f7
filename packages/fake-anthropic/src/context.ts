import type { FakeTurn, MessagesRequestBody } from "./types.js";
import { estimateTokens, unitsOf } from "./usage.js";

/**
 * The input tokens of a request as this fake counts them: the same estimate
 * its usage reports (four characters per token over tools, system and every
 * block), so `count_tokens`, usage and the context window agree with each other
 * and are the same for the same request on every run.
 */
export function inputTokensOf(body: MessagesRequestBody): number {
  return estimateTokens(unitsOf(body).join(""));
}

/** The Messages API's refusal of a request over the model's context window. */
export function promptTooLong(tokens: number, window: number): string {
  return `prompt is too long: ${tokens} tokens > ${window} maximum`;
}

// The instruction a summarising client sends as the last user text.
const summaryPattern = /summari[sz]e the conversation/i;

// Written into every summary this fake makes, so a scripted model that counts
// turns (see assistantTurns) keeps counting across a compaction.
const turnsMarker = /\[earlier assistant turns: (\d+)\]/;

/**
 * Whether a request asks for a summary of the conversation so far: its last
 * user message ends with text asking to summarise the conversation.
 */
export function isSummaryRequest(body: MessagesRequestBody | undefined): boolean {
  const last = messagesOf(body).at(-1);
  if (last?.role !== "user" || !Array.isArray(last.content)) return false;
  const text = last.content.at(-1);
  return isText(text) && summaryPattern.test(text.text);
}

/**
 * A deterministic summary of the conversation in a request: how many assistant
 * turns and tool results it stood for (earlier summaries included), and the
 * last text the assistant wrote. Short, whatever the length of what it stands for.
 */
export function summaryTurn(body: MessagesRequestBody | undefined): FakeTurn {
  const turns = assistantTurnsIn(body);
  const messages = messagesOf(body);
  const results = messages.flatMap(blocksOf).filter((b) => b.type === "tool_result").length;
  const lastText = messages
    .filter((m) => m.role === "assistant")
    .flatMap(blocksOf)
    .filter(isText)
    .at(-1)?.text;
  const said = lastText ? ` The assistant last said: ${lastText.slice(0, 200)}` : "";
  return {
    content: [
      {
        type: "text",
        text: `[earlier assistant turns: ${turns}] The conversation so far had ${turns} assistant turns and ${results} tool results.${said}`,
      },
    ],
  };
}

/**
 * Assistant turns a conversation stands for: its assistant messages, plus the
 * turns a summary of this fake's opening it says it replaced.
 */
export function assistantTurnsIn(body: MessagesRequestBody | undefined): number {
  const messages = messagesOf(body);
  let turns = messages.filter((m) => m.role === "assistant").length;
  for (const message of messages) {
    if (message.role !== "user") continue;
    for (const block of blocksOf(message)) {
      const match = isText(block) ? turnsMarker.exec(block.text) : null;
      if (match?.[1]) turns += Number(match[1]);
    }
  }
  return turns;
}

type Message = { role?: unknown; content?: unknown };
type Block = { type?: unknown; text?: unknown };

function messagesOf(body: MessagesRequestBody | undefined): Message[] {
  return Array.isArray(body?.messages) ? (body.messages as Message[]) : [];
}

function blocksOf(message: Message): Block[] {
  if (typeof message.content === "string") return [{ type: "text", text: message.content }];
  return Array.isArray(message.content) ? (message.content as Block[]).filter((b) => typeof b === "object" && b) : [];
}

function isText(block: unknown): block is { type: "text"; text: string } {
  return (
    typeof block === "object" &&
    block !== null &&
    (block as Block).type === "text" &&
    typeof (block as Block).text === "string"
  );
}
