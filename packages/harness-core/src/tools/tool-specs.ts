import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AgentConfig, type ToolDefinition, ToolDefinitionSchema } from "@reins/proto";
import type { ModelToolSpec } from "../model/index.js";
import { customToolSpecs } from "./custom-tools.js";
import type { ExecutorPool } from "./executor-pool.js";

export interface ResolvedTools {
  readonly specs: ModelToolSpec[];
  /** Names of tools that are safe to run twice. */
  readonly idempotent: ReadonlySet<string>;
}

/**
 * The tools a session offers the model: the definitions recorded in its
 * `session.created` event, so a resumed session offers exactly what it offered
 * before. Only a session created without them looks them up in the catalog,
 * as seen by the session's tenant. The client's custom tools follow them.
 */
export async function resolveTools(
  config: AgentConfig,
  tenant: string,
  executors: ExecutorPool,
  signal?: AbortSignal,
): Promise<ResolvedTools> {
  const definitions =
    config.toolDefinitions.length > 0 || config.tools.length === 0
      ? config.toolDefinitions
      : await lookUpTools(config.tools, config.executorAddress, tenant, executors, signal);
  return {
    specs: [
      ...definitions.map((d) => ({
        name: d.name,
        description: d.description,
        inputSchema: parseSchema(d.inputSchemaJson),
      })),
      ...customToolSpecs(config),
    ],
    idempotent: new Set(definitions.filter((d) => d.idempotent).map((d) => d.name)),
  };
}

/**
 * Definitions of the named tools from the catalog a session of `tenant` is
 * offered. An unknown name fails with INVALID_ARGUMENT listing what the catalog
 * offers; a catalog that cannot be read fails with the executor's status
 * (e.g. UNAVAILABLE).
 */
export async function lookUpTools(
  names: readonly string[],
  address: string,
  tenant: string,
  executors: ExecutorPool,
  signal?: AbortSignal,
): Promise<ToolDefinition[]> {
  const unique = [...new Set(names)];
  let catalog = await executors.listTools(address, { signal, tenant });
  // A tool added to the catalog since it was cached must not read as unknown.
  if (unique.some((n) => !catalog.some((t) => t.name === n))) {
    catalog = await executors.listTools(address, { fresh: true, signal, tenant, names: unique });
  }
  const missing = unique.filter((n) => !catalog.some((t) => t.name === n));
  if (missing.length > 0) {
    const offered = catalog.map((t) => t.name).join(", ") || "none";
    throw new ConnectError(
      `unknown tool${missing.length > 1 ? "s" : ""} ${missing.map((n) => JSON.stringify(n)).join(", ")}: the executor at ${executors.resolve(address)} offers ${offered}`,
      Code.InvalidArgument,
    );
  }
  return unique.map((name) => {
    const tool = catalog.find((t) => t.name === name) as (typeof catalog)[number];
    return create(ToolDefinitionSchema, {
      name: tool.name,
      description: tool.description,
      inputSchemaJson: tool.inputSchemaJson,
      idempotent: tool.idempotent,
    });
  });
}

// StartSession refuses schemas that are not JSON objects, but a log may hold one
// written by another client: a lenient schema beats a session that can never run.
function parseSchema(json: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = json === "" ? undefined : JSON.parse(json);
  } catch {
    value = undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { type: "object" };
}
