// The session index (a KV bucket of Session summaries) and the current summary
// of a session, taken from the index when it is at the log's end and healed
// from the log when it lags.
export type { CurrentSummary } from "./current-summary.js";
export { currentSummary } from "./current-summary.js";
export type { SessionIndex } from "./session-index.js";
export { createSessionIndex } from "./session-index.js";
