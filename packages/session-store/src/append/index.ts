// The append path: an AppendEvents batch checked, fenced on the log's last
// seq (Nats-Expected-Last-Subject-Sequence) and published as one JetStream
// message, idempotent per event id (invariant 2 in ARCHITECTURE.md).
export type { AppendResult } from "./append.js";
export { appendEvents } from "./append.js";
export { fencedPublish } from "./fenced-publish.js";
