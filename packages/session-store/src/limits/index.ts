// Per-session limits on appends: the log's size and a token bucket on the
// event rate, checked before anything is written.
export type { AppendLimits } from "./append-limits.js";
export { createAppendLimits } from "./append-limits.js";
