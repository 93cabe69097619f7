import type { Command } from "commander";
import type { CliContext } from "../../context.js";

export function registerTools(program: Command, ctx: CliContext): void {
  program
    .command("tools")
    .description("list the tools a session may use: the executor's, the harness's host tools and MCP servers' tools")
    .option("--json", "print NDJSON, one tool per line (with its input schema)")
    .addHelpText(
      "after",
      `
The harness answers for the caller's tenant (--token): a tool limited to
other tenants is not listed. MCP tools are named mcp__<server>__<tool>.

Example:
  $ reins tools`,
    )
    .action(async (options: { json?: boolean }, command: Command) => {
      const { listTools } = await import("./action.js");
      await listTools(ctx, command, options);
    });
}
