/**
 * A model conversation in the Messages API's shape, independent of any SDK:
 * what the event log folds into and what a model adapter sends.
 */
export type ConversationBlock =
  | {
      readonly type: "text";
      readonly text: string;
      /** A prompt-caching breakpoint belongs here (e.g. after a compaction's summary). */
      readonly cacheBreakpoint?: boolean;
    }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }
  | {
      readonly type: "tool_use";
      readonly id: string;
      readonly name: string;
      readonly input: Readonly<Record<string, unknown>>;
    }
  | {
      readonly type: "tool_result";
      readonly tool_use_id: string;
      readonly content: string;
      readonly is_error: boolean;
    };

export interface ConversationMessage {
  readonly role: "user" | "assistant";
  readonly content: ConversationBlock[];
}

/** A tool as offered to the model. */
export interface ModelToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

/** Result text for a tool call whose outcome a crash or an interrupt hid. */
export const outcomeUnknown = "interrupted; outcome unknown";

/** Result text for a tool call that never started because the turn stopped. */
export const notRun = "interrupted before it ran; it was not executed";

/** How an interrupt reads to the model in the conversation. */
export function interruptText(reason: string): string {
  return reason ? `[The user interrupted the previous turn: ${reason}]` : "[The user interrupted the previous turn]";
}

/** Parses a tool input document; a model may only ever send a JSON object. */
export function parseToolInput(json: string): Record<string, unknown> {
  if (json === "") return {};
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Fall through: the model receives what it sent, wrapped, rather than a broken request.
  }
  return { _unparsed_input: json };
}
