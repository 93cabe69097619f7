// @reins/session-store: the session log on NATS JetStream.
//
// - createSessionStore(options, log): connects, creates the `<PREFIX>_EVENTS`
//   stream and `<PREFIX>_SESSIONS` bucket if missing, and returns a SessionStore
//   (create/get/list sessions, fenced idempotent appends, positional reads,
//   replay-then-follow streams, delete).
// - createSessionServiceImpl(store): the reins.session.v1.SessionService handlers,
//   for startServer (apps/session) or an in-process router transport.
// - toConnectError(err): the one mapping of store and NATS errors to gRPC codes.
// - Domain errors (SessionNotFoundError, FencedError, ...) for callers of the
//   store API, and the request limits the service enforces.

export type { AppendResult } from "./append/append.js";
export type { SessionStoreOptions, StoreNames } from "./config.js";
export { resolveOptions } from "./config.js";
export {
  FencedError,
  InvalidRequestError,
  isUnavailable,
  LogFullError,
  RateLimitedError,
  SessionExistsError,
  SessionNotFoundError,
  StoreUnavailableError,
  toConnectError,
} from "./errors.js";
export { statusReserveBytes } from "./limits/append-limits.js";
export type { EventsPage, GetEventsOptions } from "./read/read-events.js";
export type { StreamEventsOptions } from "./read/stream-events.js";
export { sessionServicePolicy } from "./service/access.js";
export { createSessionServiceImpl } from "./service/service.js";
export { lazyDelayMs as indexLazyDelayMs } from "./session-index/session-index.js";
export type { CreateSessionInput, OwnerOption, SessionStore } from "./session-store.js";
export { createSessionStore } from "./session-store.js";
export { eventIdPattern, maxBatchEvents, maxPageEvents, maxTitleLength } from "./validate.js";
