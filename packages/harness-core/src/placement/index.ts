/**
 * Placement of sessions on the sandbox hosts of the executor registry: the
 * choice of a host (choose-executor), the registry as a harness reads it
 * (executor-directory), the step of the run loop that places a session and
 * routes its calls (placement), and what the model reads when a host is lost
 * (lost-host). Internal to harness-core unless src/index.ts exports it.
 */
export type { ExecutorChoice, PlacementNeeds } from "./choose-executor.js";
export { chooseExecutor, describeSelector, loadOf, matchesSelector } from "./choose-executor.js";
export type { ExecutorDirectory, ExecutorDirectoryOptions } from "./executor-directory.js";
export { createExecutorDirectory } from "./executor-directory.js";
export { hostLostText, noHostText } from "./lost-host.js";
export type { Placement, PlacementOptions, Route } from "./placement.js";
export { createPlacement } from "./placement.js";
export { selectorProblem } from "./selector.js";
