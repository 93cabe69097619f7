import type { ConversationBlock, ConversationMessage, ModelToolSpec } from "./conversation.js";

/** One model request, built from the folded session. */
export interface ModelRequest {
  readonly model: string;
  readonly system: string;
  readonly tools: readonly ModelToolSpec[];
  readonly messages: readonly ConversationMessage[];
  readonly maxTokens: number;
}

/** A piece of streamed output, for live viewers only. */
export interface ModelDelta {
  /** 1 for the first HTTP attempt; a retry restarts the text from scratch. */
  readonly attempt: number;
  /** Content block index. */
  readonly index: number;
  readonly text: string;
  readonly thinking: boolean;
}

export type ModelStopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "refusal"
  | "pause_turn"
  | "other";

export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheCreationInputTokens: number;
  readonly cacheReadInputTokens: number;
}

/** Timing and accounting of a request, successful or not. */
export interface ModelRequestStats {
  readonly model: string;
  /** HTTP attempts made (1 = no retry). */
  readonly attempts: number;
  readonly latencyMs: number;
  /** Undefined when no token arrived. */
  readonly timeToFirstTokenMs: number | undefined;
  readonly usage: ModelUsage;
  readonly costUsd: number;
  readonly requestId: string;
}

/** The model's complete answer. */
export interface ModelResponse extends ModelRequestStats {
  readonly messageId: string;
  /** Blocks the model produced (text, thinking, redacted_thinking, tool_use). */
  readonly content: readonly Exclude<ConversationBlock, { type: "tool_result" }>[];
  readonly stopReason: ModelStopReason;
}

export interface ModelCallOptions {
  /** Aborts the stream (an interrupt); the call then rejects with ModelAbortedError. */
  readonly signal?: AbortSignal;
  readonly onDelta?: (delta: ModelDelta) => void;
}

/**
 * A model behind one interface: streams one answer, retrying transient failures
 * on its own, and reports what the request cost.
 */
export interface ModelAdapter {
  stream(request: ModelRequest, options?: ModelCallOptions): Promise<ModelResponse>;
  /**
   * The model API's own count of a request's input tokens, when it has such an
   * endpoint and it answers; undefined otherwise (the caller estimates).
   */
  countTokens?(request: ModelRequest, signal?: AbortSignal): Promise<number | undefined>;
}
