import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Tool, ToolSchema } from "@reins/proto";
import { Ajv, type ValidateFunction } from "ajv";
import type { ToolCall, ToolOutcome } from "../executor-pool.js";
import type { HostToolSpec } from "./config.js";
import { callHostTool } from "./http-call.js";

/**
 * The tools this harness runs itself (see config.ts): described like catalog
 * tools, so a session names and records them the same way, and called over
 * HTTP from the harness process, so their secrets stay here.
 */
export interface HostTools {
  /** The names of the tools a session of `tenant` may use (see HostToolSpec.tenants). */
  namesFor(tenant: string): ReadonlySet<string>;
  /** Catalog entries of those tools, as an executor's ListTools would describe them. */
  catalog(tenant: string): Tool[];
  /**
   * Runs a call of one of `namesFor(call.tenant)`; throws ToolAbortedError only
   * when `signal` stops it, and a plain error for any other name.
   */
  execute(call: ToolCall, signal?: AbortSignal): Promise<ToolOutcome>;
}

export function createHostTools(specs: readonly HostToolSpec[]): HostTools {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const byName = new Map<string, { spec: HostToolSpec; validate: ValidateFunction }>();
  for (const spec of specs) {
    if (byName.has(spec.name)) throw new Error(`host tool ${JSON.stringify(spec.name)} is defined twice`);
    byName.set(spec.name, { spec, validate: ajv.compile(spec.inputSchema) });
  }
  const catalog = specs.map((spec) => ({
    spec,
    tool: create(ToolSchema, {
      name: spec.name,
      description: spec.description,
      inputSchemaJson: JSON.stringify(spec.inputSchema),
      idempotent: spec.idempotent,
      timeout: durationFromMs(spec.timeoutMs),
    }),
  }));
  const serves = (spec: HostToolSpec, tenant: string) => spec.tenants === undefined || spec.tenants.includes(tenant);
  // A handful of tools: filtered per call, nothing to cache.
  const offeredTo = (tenant: string) => catalog.filter((c) => serves(c.spec, tenant)).map((c) => c.tool);
  return {
    namesFor: (tenant) => new Set(offeredTo(tenant).map((t) => t.name)),
    catalog: offeredTo,
    async execute(call, signal) {
      const tool = byName.get(call.name);
      // The same refusal for a tool of another tenant as for none at all.
      if (!tool || !serves(tool.spec, call.tenant)) throw new Error(`${JSON.stringify(call.name)} is not a host tool`);
      return callHostTool(tool.spec, tool.validate, call.inputJson, signal);
    },
  };
}
