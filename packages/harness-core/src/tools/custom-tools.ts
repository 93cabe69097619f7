import type { AgentConfig } from "@reins/proto";
import type { ModelToolSpec } from "../model/index.js";

// The Messages API's own rule for tool names.
const toolName = /^[A-Za-z0-9_-]{1,64}$/;

/** The custom tools of a session as offered to the model. */
export function customToolSpecs(config: AgentConfig): ModelToolSpec[] {
  return config.customTools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: objectSchema(t.inputSchemaJson),
  }));
}

/**
 * Why a StartSession's custom tools cannot be offered ("" when they can): a bad
 * or repeated name, one that another tool of the session has, or a schema that
 * is not a JSON object.
 */
export function customToolsProblem(config: AgentConfig): string {
  const others = new Set(config.toolDefinitions.map((d) => d.name));
  const seen = new Set<string>();
  for (const [i, tool] of config.customTools.entries()) {
    const field = `config.custom_tools[${i}]`;
    if (!toolName.test(tool.name)) {
      return `${field}.name ${JSON.stringify(tool.name)} is not a tool name (^[A-Za-z0-9_-]{1,64}$)`;
    }
    if (seen.has(tool.name)) return `${field}.name ${JSON.stringify(tool.name)} appears twice in config.custom_tools`;
    if (others.has(tool.name)) {
      return `${field}.name ${JSON.stringify(tool.name)} is also a tool of the session (config.tools): names must be unique`;
    }
    seen.add(tool.name);
    if (tool.inputSchemaJson === "") continue;
    let schema: unknown;
    try {
      schema = JSON.parse(tool.inputSchemaJson);
    } catch (err) {
      return `${field}.input_schema_json is not JSON: ${(err as Error).message}`;
    }
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      return `${field}.input_schema_json must be a JSON object (a JSON Schema)`;
    }
  }
  return "";
}

function objectSchema(json: string): Record<string, unknown> {
  try {
    const value: unknown = json === "" ? undefined : JSON.parse(json);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Checked at StartSession; a log written by another client still runs.
  }
  return { type: "object" };
}
