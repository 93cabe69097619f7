import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutorPool } from "../executor-pool.js";
import type { McpTools } from "./mcp-tools.js";

/**
 * An executor pool that also offers the MCP servers' tools, as withHostTools
 * does for host tools: one catalog for StartSession, one `execute` for the
 * agent loop, so MCP calls follow the write-ahead, result and recovery path of
 * every other tool. Names of the form `mcp__<server>__<tool>` of a server this
 * session's tenant may use go to that server; every other name (including one
 * of a server limited to other tenants) goes on down, as if no such server
 * were configured.
 */
export function withMcpTools(inner: ExecutorPool, mcp: McpTools): ExecutorPool {
  return {
    resolve: (address) => inner.resolve(address),
    kindOf: (name, tenant) => (mcp.routes(name, tenant) ? "mcp" : inner.kindOf?.(name, tenant)),
    unavailableSources: (tenant) =>
      new Map([...(inner.unavailableSources?.(tenant) ?? []), ...mcp.unavailable(tenant)]),
    async execute(address, call, signal) {
      if (mcp.routes(call.name, call.tenant)) return mcp.execute(call, signal);
      return inner.execute(address, call, signal);
    },
    async listTools(address, options = {}) {
      const tenant = options.tenant ?? "";
      const [listed, catalog] = await Promise.all([
        mcp.catalog(tenant, {
          ...(options.fresh ? { fresh: true } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
        inner.listTools(address, options),
      ]);
      // A named tool of a server that cannot be listed is not "unknown": say why it is missing.
      for (const name of options.names ?? []) {
        if (!mcp.routes(name, tenant) || listed.tools.some((t) => t.name === name)) continue;
        const server = [...listed.unavailable.keys()].find((s) => name.startsWith(`mcp__${s}__`));
        if (server !== undefined) {
          throw new ConnectError(
            `tool ${JSON.stringify(name)}: MCP server ${server} cannot be listed: ${listed.unavailable.get(server)}`,
            Code.Unavailable,
          );
        }
      }
      return [...listed.tools, ...catalog.filter((t) => !mcp.routes(t.name, tenant))];
    },
  };
}
