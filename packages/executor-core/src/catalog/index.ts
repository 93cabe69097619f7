/**
 * The tool catalog: the YAML file's schema, every tool's spec (input schema,
 * image, command, limits, network, workspace) and the messages that say where a
 * catalog or a tool's input is wrong.
 */
export type { Catalog, ToolSpec } from "./catalog.js";
export { loadCatalog, parseCatalog } from "./catalog.js";
export { formatSchemaErrors } from "./schema-errors.js";
