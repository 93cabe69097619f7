/**
 * The sandbox containers: the hardened create options, how a call's input becomes
 * its command line, starting one and collecting its outcome, the warm pool of
 * started containers, and the reaper that removes used and lost ones.
 */
export { buildScript, renderArgv, renderTemplate, templateFields } from "./command.js";
export { daemonLabel, profileOf, sandboxUser, workspaceLabel, workspaceVolumeName } from "./container-spec.js";
export { createDockerClient } from "./docker-client.js";
export type { EngineRuntimes } from "./engine-runtimes.js";
export { checkCatalogRuntimes, readEngineRuntimes } from "./engine-runtimes.js";
export { createReaper } from "./reaper.js";
export type { RunOutcome, SandboxContainer } from "./sandbox-container.js";
export { startSandboxContainer } from "./sandbox-container.js";
export type { PoolStats } from "./warm-pool.js";
export { createWarmPool } from "./warm-pool.js";
