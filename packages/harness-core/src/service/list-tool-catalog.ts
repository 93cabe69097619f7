import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ListToolCatalogRequest,
  type ListToolCatalogResponse,
  ListToolCatalogResponseSchema,
  ToolKind,
  UnavailableToolSourceSchema,
} from "@reins/proto";
import type { ExecutorPool } from "../tools/index.js";

const kinds = { host: ToolKind.HOST, mcp: ToolKind.MCP } as const;

/**
 * ListToolCatalog: what StartSession resolves `config.tools` against for a session
 * of `tenant` (the same catalog, so a name listed here is a name it accepts),
 * each tool with where it runs.
 */
export async function listToolCatalog(
  executors: ExecutorPool,
  req: ListToolCatalogRequest,
  tenant: string,
  signal: AbortSignal,
): Promise<ListToolCatalogResponse> {
  let tools: Awaited<ReturnType<ExecutorPool["listTools"]>>;
  try {
    tools = await executors.listTools(req.executorAddress, { fresh: req.fresh, signal, tenant });
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code === Code.FailedPrecondition || e.code === Code.PermissionDenied) throw e;
    throw new ConnectError(`cannot read the tool catalog: ${e.rawMessage}`, e.code, undefined, undefined, e);
  }
  const unavailable = executors.unavailableSources?.(tenant) ?? new Map<string, string>();
  return create(ListToolCatalogResponseSchema, {
    tools: tools.map((tool) => {
      const kind = executors.kindOf?.(tool.name, tenant);
      return { tool, kind: kind ? kinds[kind] : ToolKind.EXECUTOR };
    }),
    unavailable: [...unavailable].map(([name, reason]) => create(UnavailableToolSourceSchema, { name, reason })),
  });
}
