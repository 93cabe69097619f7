/**
 * @reins/harness-core: the agent loop behind apps/harness.
 *
 * `createSessionRunner` runs sessions (one loop per session per process) by folding
 * the log (`createSessionFold`), calling the model (`createAnthropicAdapter`),
 * writing each step ahead of acting on it, and routing tool calls to executors
 * (`createExecutorPool`), host tools (`withHostTools`) or MCP servers
 * (`withMcpTools`); `createWakeQueue` shares
 * sessions between replicas; `createHarnessServiceImpl` serves
 * reins.harness.v1.HarnessService. See README.md and ARCHITECTURE.md.
 *
 * The code is grouped by concept, each folder with its own index.ts: `loop/`,
 * `model/`, `log/`, `context/`, `wake/`, `tools/`, `placement/`, `service/`, and `errors.ts`
 * (the error classes and their one mapping to wire errors). This file exports
 * what the daemon, the benches and the end-to-end suites use; the rest stays
 * internal.
 */
export type { HarnessMetrics, ToolKind, WakeResult } from "./harness-metrics.js";
export type { AppendHook } from "./log/index.js";
export { createSessionFold, withStreamedAppends } from "./log/index.js";
export { createReschedulePolicy } from "./loop/index.js";
export type { ModelAdapter } from "./model/index.js";
export { createAnthropicAdapter, createNatsDeltaBus, outcomeUnknown } from "./model/index.js";
export type { ExecutorDirectory, Placement } from "./placement/index.js";
export { chooseExecutor, createExecutorDirectory, createPlacement } from "./placement/index.js";
export { createHarnessServiceImpl, harnessServicePolicy } from "./service/index.js";
export type { ExecutorPool, HostToolSpec, McpServerSpec, McpTools } from "./tools/index.js";
export {
  createExecutorPool,
  createHostTools,
  createMcpTools,
  parseHostToolsConfig,
  parseMcpServersConfig,
  withHostTools,
  withMcpTools,
} from "./tools/index.js";
export { createSessionRunner, createWakeKeeper, createWakeLeaseTable, createWakeQueue } from "./wake/index.js";
