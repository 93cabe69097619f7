/**
 * Tools, by where they run: executor tools through the executor pool, host
 * tools in the harness (host-tools/), MCP servers' tools called from the
 * harness (mcp/), custom tools in the client (custom-tools); whether a call
 * runs, waits for a confirmation or for its client (permissions); the specs
 * offered to the model (tool-specs) and tool_use ids made unique before they
 * reach the log.
 * Internal to harness-core unless src/index.ts exports it.
 */

export { customToolSpecs, customToolsProblem } from "./custom-tools.js";
export type { ExecutorPool, ToolOutcome } from "./executor-pool.js";
export { createExecutorPool, hostFailureOf } from "./executor-pool.js";
export type { HostToolSpec } from "./host-tools/index.js";
export { createHostTools, parseHostToolsConfig, withHostTools } from "./host-tools/index.js";
export type { McpServerSpec, McpTools } from "./mcp/index.js";
export { createMcpTools, parseMcpServersConfig, withMcpTools } from "./mcp/index.js";
export type { ToolPolicy, ToolRoute } from "./permissions.js";
export { permissionsProblem, toolPolicy } from "./permissions.js";
export type { ResolvedTools } from "./tool-specs.js";
export { lookUpTools, resolveTools } from "./tool-specs.js";
export { uniqueToolUseIds } from "./tool-use-ids.js";
