import { toJson } from "@bufbuild/protobuf";
import { ToolSchema } from "@reins/proto";
import type { Command } from "commander";
import { executorClient } from "../../clients.js";
import type { CliContext } from "../../context.js";
import { formatDuration } from "../../render/format.js";
import { renderTable } from "../../render/table.js";
import { oneLine } from "../../render/truncate.js";

/** `reins tools`: the executor's ListTools as a table. */
export async function listTools(ctx: CliContext, command: Command, options: { json?: boolean }): Promise<void> {
  const { tools } = await executorClient(await ctx.targets(command)).listTools({});
  if (options.json) {
    for (const tool of tools)
      ctx.terminal.print(JSON.stringify({ type: "tool", ...(toJson(ToolSchema, tool) as object) }));
    return;
  }
  const c = ctx.terminal.colors;
  const descriptionWidth = Math.max(30, ctx.terminal.columns - 40);
  const rows = tools.map((t) => [
    c.bold(t.name),
    oneLine(t.description.split(/(?<=\.)\s/)[0] ?? "", descriptionWidth),
    formatDuration(t.timeout),
    t.idempotent ? "yes" : "",
  ]);
  const columns = [{ header: "NAME" }, { header: "DESCRIPTION" }, { header: "TIMEOUT" }, { header: "IDEMPOTENT" }];
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
