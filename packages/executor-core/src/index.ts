/**
 * @reins/executor-core: the Docker sandbox behind apps/executor.
 *
 * `loadCatalog` (a file) or `parseCatalog` (its text) reads the tool catalog,
 * `createExecutor` runs each call in a fresh hardened single-use container (from a
 * warm pool) and answers with a string, `createExecutorServiceImpl` serves it as
 * reins.executor.v1.ExecutorService, `createDockerClient` is the engine it talks
 * to. Failures the model must hear about are results, not errors. See README.md.
 *
 * Only what the daemon and the benches use is exported; the folders (catalog/,
 * container/, workspace/, output/) are the executor's own.
 */
export { loadCatalog, parseCatalog } from "./catalog/index.js";
export { createDockerClient } from "./container/index.js";
export { createExecutor } from "./executor.js";
export type { CallOutcome, ExecutorMetrics } from "./executor-metrics.js";
export { createExecutorServiceImpl } from "./service.js";
