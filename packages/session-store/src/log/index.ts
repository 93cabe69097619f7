// A replica's copy of the logs it serves: the batch format on the stream
// (stored bytes kept as they are), reading batches back, each session's state
// (events, ids, tool_use intents, summary) and the cache that bounds them.
export {
  batchMsgId,
  decodeBatch,
  decodeTimestamp,
  decodeWire,
  encodeBatch,
  headOf,
  wireFormOf,
} from "./batch-codec.js";
export type { LogReader, StoredBatch } from "./log-reader.js";
export { createLogReader } from "./log-reader.js";
export type { SessionState } from "./session-state.js";
export { firstSeqOf, foldedTypes, lastSeqOf, visibleTo } from "./session-state.js";
export type { StateCache } from "./state-cache.js";
export { createStateCache } from "./state-cache.js";
export { foldEvent, latestSeqIn, noteLatest } from "./summary.js";
