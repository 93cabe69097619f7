import type { ExecutorPool } from "../executor-pool.js";
import type { HostTools } from "./host-tools.js";

export interface HostToolRouterOptions {
  /** Told once per executor address and name when a catalog tool is shadowed by a host tool. */
  readonly onShadowed?: (address: string, name: string) => void;
}

/**
 * An executor pool that also offers the host tools: the agent loop and
 * StartSession see one catalog and route every call through one `execute`,
 * so host tool calls follow the same write-ahead, result and recovery path as
 * executor calls. Routing is by name, and a host tool takes precedence over an
 * executor tool of the same name: the harness's own configuration decides
 * where a credential goes, never an executor's catalog.
 *
 * Both directions take the session's tenant: a host tool limited to other
 * tenants is, for this session, as if it were not configured (not listed, its
 * name routed to the executor like any other), so neither the tool nor its
 * credential is reachable and its existence does not show.
 */
export function withHostTools(
  executors: ExecutorPool,
  hostTools: HostTools,
  options: HostToolRouterOptions = {},
): ExecutorPool {
  const told = new Set<string>();
  return {
    resolve: (address) => executors.resolve(address),
    kindOf: (name, tenant) => (hostTools.namesFor(tenant).has(name) ? "host" : executors.kindOf?.(name, tenant)),
    ...(executors.unavailableSources ? { unavailableSources: executors.unavailableSources } : {}),
    async execute(address, call, signal) {
      if (hostTools.namesFor(call.tenant).has(call.name)) return hostTools.execute(call, signal);
      return executors.execute(address, call, signal);
    },
    async listTools(address, listOptions) {
      const catalog = await executors.listTools(address, listOptions);
      const names = hostTools.namesFor(listOptions?.tenant ?? "");
      const shadowed = catalog.filter((t) => names.has(t.name));
      for (const tool of shadowed) {
        const key = `${address}\n${tool.name}`;
        if (told.has(key)) continue;
        told.add(key);
        options.onShadowed?.(address, tool.name);
      }
      return [...hostTools.catalog(listOptions?.tenant ?? ""), ...catalog.filter((t) => !names.has(t.name))];
    },
  };
}
