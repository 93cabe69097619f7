import type { Command } from "commander";
import { ExitCode } from "../../cli-error.js";
import type { CliContext } from "../../context.js";

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("show the services of the stack `reins up` started and their health")
    .addHelpText(
      "after",
      "\nExit status 1 when no stack runs or a part of it is not healthy.\n\nExample:\n  $ reins status",
    )
    .action(async (_options: unknown, command: Command) => {
      const paths = ctx.paths(command);
      const state = await ctx.state(command);
      if (!state) {
        ctx.terminal.note(`no stack is running from ${paths.dir} (start one with \`reins up\`)`);
        process.exitCode = ExitCode.failure;
        return;
      }
      const [{ stackHealth }, { renderStatusTable }] = await Promise.all([
        import("../../stack/health.js"),
        import("../../render/status-table.js"),
      ]);
      const rows = await stackHealth(state);
      for (const line of renderStatusTable(rows, ctx.terminal.colors)) ctx.terminal.print(line);
      if (!rows.every((r) => r.ok)) process.exitCode = ExitCode.failure;
    });
}
