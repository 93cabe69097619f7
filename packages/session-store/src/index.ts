// @reins/session-store: the session log on NATS JetStream.
//
// - createSessionStore(options, log, metrics): connects, creates the `<PREFIX>_EVENTS`
//   stream and `<PREFIX>_SESSIONS` bucket if missing, and returns a SessionStore
//   (create/get/list sessions, fenced idempotent appends, positional reads,
//   replay-then-follow streams, delete). Its methods throw the store's domain
//   errors (errors.ts), each named by its `name`.
// - createSessionServiceImpl(store): the reins.session.v1.SessionService handlers,
//   for startServer (apps/session) or an in-process router transport; they map
//   every error to a gRPC code with `toConnectError` (errors.ts).
// - sessionServicePolicy: the role each method needs, for createAuthInterceptor.
// - maxBatchEvents: the most events one append may carry.
// - createExecutorRegistryServiceImpl(store.executors), executorRegistryPolicy:
//   the reins.executor.v1.ExecutorRegistryService handlers over the store's
//   `<PREFIX>_EXECUTORS` bucket, and the role each method needs.
//
// Only what the daemon, the benches and other packages' tests use is exported;
// the folders (append/, limits/, log/, read/, session-index/, service/) are the
// store's own.

export type { SessionStoreOptions } from "./config.js";
export type { ExecutorFilter, ExecutorRegistry } from "./executor-registry/index.js";
export {
  createExecutorRegistryServiceImpl,
  executorRegistryPolicy,
  registryLimits,
} from "./executor-registry/index.js";
export { createSessionServiceImpl, sessionServicePolicy } from "./service/index.js";
export type { SessionStore } from "./session-store.js";
export { createSessionStore } from "./session-store.js";
export type { StoreMetrics } from "./store-metrics.js";
export { maxBatchEvents } from "./validate.js";
