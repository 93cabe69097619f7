export type { McpServerSpec } from "./config.js";
export { parseMcpServersConfig } from "./config.js";
