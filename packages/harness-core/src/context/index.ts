/**
 * Keeping a long session inside the model's context window: the session's
 * policy with its defaults (context-policy), the count of the next request's
 * tokens (token-count), and the compaction that clears old tool results and has
 * the model summarise the conversation, recorded as `agent.context_compacted`
 * before any request uses it (compaction). The fold builds the view from it
 * (log/context-view).
 * Internal to harness-core unless src/index.ts exports it.
 */
export type { CompactionReason, ContextManager } from "./compaction.js";
export { createContextManager, isPromptTooLong, promptTooLongScale } from "./compaction.js";
export type { ResolvedContextPolicy } from "./context-policy.js";
export { contextPolicyProblem, resolveContextPolicy } from "./context-policy.js";
export { estimateRequestTokens } from "./token-count.js";
