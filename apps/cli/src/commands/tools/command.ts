import type { Command } from "commander";
import type { CliContext } from "../../context.js";

export function registerTools(program: Command, ctx: CliContext): void {
  program
    .command("tools")
    .description("list the executor's tools (what `reins run --tools` accepts)")
    .option("--json", "print NDJSON, one tool per line (with its input schema)")
    .addHelpText(
      "after",
      `
The executor requires a token: the local stack's (from \`reins up\`) is used, or
REINS_EXECUTOR_TOKEN with --executor-url.

Example:
  $ reins tools`,
    )
    .action(async (options: { json?: boolean }, command: Command) => {
      const { listTools } = await import("./action.js");
      await listTools(ctx, command, options);
    });
}
