import { toJson } from "@bufbuild/protobuf";
import { ToolKind, ToolSchema } from "@reins/proto";
import type { Command } from "commander";
import { createClients, executorClient } from "../../clients.js";
import type { CliContext } from "../../context.js";
import { formatDuration } from "../../render/format.js";
import { renderTable } from "../../render/table.js";
import { oneLine } from "../../render/truncate.js";

const kindNames: Record<ToolKind, string> = {
  [ToolKind.UNSPECIFIED]: "",
  [ToolKind.EXECUTOR]: "executor",
  [ToolKind.HOST]: "host",
  [ToolKind.MCP]: "mcp",
};

/**
 * `reins tools`: the harness's ListToolCatalog as a table: what a session of
 * the caller's tenant may name, executor, host and MCP tools alike, with
 * where each runs; MCP servers that could not be listed are named on stderr.
 */
export async function listTools(ctx: CliContext, command: Command, options: { json?: boolean }): Promise<void> {
  const { harness } = createClients(await ctx.targets(command));
  const { tools, unavailable } = await harness.listToolCatalog({});
  for (const source of unavailable) {
    ctx.terminal.note(ctx.terminal.errColors.yellow(`MCP server ${source.name} cannot be listed: ${source.reason}`));
  }
  if (options.json) {
    for (const { tool, kind } of tools) {
      if (!tool) continue;
      ctx.terminal.print(
        JSON.stringify({ type: "tool", kind: kindNames[kind], ...(toJson(ToolSchema, tool) as object) }),
      );
    }
    return;
  }
  const c = ctx.terminal.colors;
  const descriptionWidth = Math.max(30, ctx.terminal.columns - 50);
  const rows = tools.flatMap(({ tool: t, kind }) =>
    t
      ? [
          [
            c.bold(t.name),
            kindNames[kind],
            oneLine(t.description.split(/(?<=\.)\s/)[0] ?? "", descriptionWidth),
            formatDuration(t.timeout),
            t.idempotent ? "yes" : "",
          ],
        ]
      : [],
  );
  const columns = [
    { header: "NAME" },
    { header: "KIND" },
    { header: "DESCRIPTION" },
    { header: "TIMEOUT" },
    { header: "IDEMPOTENT" },
  ];
  for (const line of renderTable(columns, rows, c)) ctx.terminal.print(line);
}

/** Every tool name in the catalog, or undefined when the executor cannot be asked. */
export async function catalogToolNames(ctx: CliContext, command: Command): Promise<string[] | undefined> {
  const targets = await ctx.targets(command);
  if (!targets.executorUrl || !targets.executorToken) return undefined;
  try {
    const { tools } = await executorClient(targets).listTools({}, { timeoutMs: 5_000 });
    return tools.map((t) => t.name);
  } catch {
    return undefined;
  }
}
