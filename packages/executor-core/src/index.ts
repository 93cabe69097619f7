/**
 * @reins/executor-core: the Docker sandbox behind apps/executor.
 *
 * `loadCatalog` reads the tool catalog, `createExecutor` runs each call in a fresh
 * hardened single-use container (from a warm pool) and answers with a string,
 * `createExecutorServiceImpl` serves it as reins.executor.v1.ExecutorService.
 * Failures the model must hear about are results, not errors. See README.md.
 */
export type { Catalog, PoolSettings, ToolSpec, WorkspaceLimits } from "./catalog/catalog.js";
export { loadCatalog, parseCatalog } from "./catalog/catalog.js";
export { buildScript, renderArgv, renderTemplate, runnerArgv, shellQuote } from "./container/command.js";
export type { ContainerProfile } from "./container/container-spec.js";
export {
  containerCreateOptions,
  daemonLabel,
  profileOf,
  sessionLabel,
  workspaceLabel,
  workspaceVolumeName,
} from "./container/container-spec.js";
export { createDockerClient } from "./container/docker-client.js";
export type { DockerFailureKind } from "./errors.js";
export { CatalogError, DockerFailure, toDockerFailure } from "./errors.js";
export type { ExecuteInput, ExecuteResult, Executor, ExecutorOptions, ExecutorStats } from "./executor.js";
export { createExecutor, defaultWorkspaceDir } from "./executor.js";
export { createExecutorServiceImpl } from "./service.js";
export { formatBytes, parseBytes, parseDuration } from "./units.js";
