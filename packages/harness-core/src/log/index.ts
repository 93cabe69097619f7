/**
 * The session's log: the single writer that appends ahead of acting (session-log),
 * the fold that rebuilds a session from its events (fold) with the client's
 * answers to waiting tool calls (tool-actions) and the model's view of it from
 * the latest compaction (context-view), the read of a session from that
 * checkpoint rather than from seq 1 (checkpoint-load), the events it writes
 * (payloads), and the one append stream they share (streamed-appends).
 * Internal to harness-core unless src/index.ts exports it.
 */
export { clearedResultText, summaryInstruction, summaryText, type ViewCheckpoint } from "./context-view.js";
export type { Entry, SessionFold, ToolCallState } from "./fold.js";
export { createSessionFold } from "./fold.js";
export {
  agentMessage,
  customToolResult,
  customToolUse,
  modelSpan,
  reschedulingStatus,
  sessionError,
  sessionPlaced,
  sessionStatus,
  syntheticResult,
  toolConfirmation,
  toolResult,
  toolUseStarted,
  userInterrupt,
  userMessage,
  waitingStatus,
} from "./payloads.js";
export type { AppendHook, EventPayload, SessionClient, SessionLog } from "./session-log.js";
export { createSessionLog, loadSession } from "./session-log.js";
export { withStreamedAppends } from "./streamed-appends.js";
export { deniedText, waitsForClient } from "./tool-actions.js";
