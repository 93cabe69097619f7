export type { McpServerSpec } from "./config.js";
export { parseMcpServersConfig } from "./config.js";
export type { McpCatalog, McpTools, McpToolsOptions } from "./mcp-tools.js";
export { createMcpTools } from "./mcp-tools.js";
export { withMcpTools } from "./router.js";
