/**
 * The session's log: the single writer that appends ahead of acting (session-log),
 * the fold that rebuilds a session from its events (fold), the events it writes
 * (payloads), and the one append stream they share (streamed-appends).
 * Internal to harness-core unless src/index.ts exports it.
 */
export type { SessionFold, ToolCallState } from "./fold.js";
export { createSessionFold } from "./fold.js";
export {
  agentMessage,
  modelSpan,
  reschedulingStatus,
  sessionError,
  sessionStatus,
  syntheticResult,
  toolResult,
  toolUseStarted,
  userInterrupt,
  userMessage,
} from "./payloads.js";
export type { AppendHook, EventPayload, SessionClient, SessionLog } from "./session-log.js";
export { createSessionLog, loadSession } from "./session-log.js";
export { withStreamedAppends } from "./streamed-appends.js";
