import type { ConversationMessage, ModelRequest, ModelToolSpec, ModelUsage } from "../model/index.js";

/**
 * A rough token count of text: four characters per token, the rule of thumb
 * for English and code. It only has to be close: the API's own count of the
 * last request anchors it (see createTokenCounter), and the policy's threshold
 * leaves room for the error.
 */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimateMessagesTokens(messages: readonly ConversationMessage[]): number {
  let tokens = 0;
  for (const m of messages) for (const block of m.content) tokens += estimateTextTokens(JSON.stringify(block)) + 3;
  return tokens;
}

/** Estimated input tokens of a whole request: tools, system and messages. */
export function estimateRequestTokens(request: Pick<ModelRequest, "system" | "tools" | "messages">): number {
  return (
    estimateTextTokens(request.system) + estimateToolsTokens(request.tools) + estimateMessagesTokens(request.messages)
  );
}

function estimateToolsTokens(tools: readonly ModelToolSpec[]): number {
  return tools.reduce((sum, t) => sum + estimateTextTokens(JSON.stringify(t)), 0);
}

/** All input tokens of a request as the API bills them (cached ones included). */
export function inputTokensOf(usage: ModelUsage): number {
  return usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
}

/**
 * Counts the input tokens of the next request: the API's count of the last
 * request (its usage) plus an estimate of what was added since. The estimate
 * alone is used before any request of this run, and after the view changed
 * shape (a compaction), until the next answer anchors it again.
 */
export interface TokenCounter {
  count(request: Pick<ModelRequest, "system" | "tools" | "messages">): number;
  /** The request just answered, with the API's usage for it. */
  observe(request: Pick<ModelRequest, "system" | "tools" | "messages">, usage: ModelUsage): void;
  /** Forgets the anchor: the next count is an estimate. */
  reset(): void;
}

export function createTokenCounter(): TokenCounter {
  let anchor: { estimate: number; actual: number; messages: number } | undefined;
  return {
    count(request) {
      const estimate = estimateRequestTokens(request);
      // Only a request that extends the last one can add to its real count.
      if (!anchor || request.messages.length < anchor.messages) return estimate;
      return anchor.actual + Math.max(0, estimate - anchor.estimate);
    },
    observe(request, usage) {
      const actual = inputTokensOf(usage);
      if (actual > 0) anchor = { estimate: estimateRequestTokens(request), actual, messages: request.messages.length };
    },
    reset() {
      anchor = undefined;
    },
  };
}
