/**
 * The model behind one interface (model): the conversation it is sent
 * (conversation), the Anthropic adapter with its parameters, retries and
 * pricing, and the bus that carries its live text to viewers (delta-bus).
 * Internal to harness-core unless src/index.ts exports it.
 */
export { createAnthropicAdapter } from "./anthropic-adapter.js";
export type { ConversationBlock, ConversationMessage, ModelToolSpec } from "./conversation.js";
export { interruptText, notRun, outcomeUnknown, parseToolInput } from "./conversation.js";
export type { DeltaBus } from "./delta-bus.js";
export { createNatsDeltaBus } from "./delta-bus.js";
export type {
  ModelAdapter,
  ModelDelta,
  ModelRequest,
  ModelRequestStats,
  ModelResponse,
  ModelStopReason,
  ModelUsage,
} from "./model.js";
export { observedModel } from "./observed-model.js";
