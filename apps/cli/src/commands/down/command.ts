import type { Command } from "commander";
import type { CliContext } from "../../context.js";

export function registerDown(program: Command, ctx: CliContext): void {
  program
    .command("down")
    .description("stop the stack `reins up` started (found through its state file)")
    .option("--keep-docker", "leave a Docker engine that `reins up` started running")
    .addHelpText("after", '\nExample:\n  $ reins up --detach && reins run "..."; reins down')
    .action(async (options: { keepDocker?: boolean }, command: Command) => {
      const paths = ctx.paths(command);
      const state = await ctx.state(command);
      if (!state) {
        ctx.terminal.note(`no stack is running from ${paths.dir}`);
        return;
      }
      const [{ stopStackFromState }, { createProgress }] = await Promise.all([
        import("../../stack/stack-down.js"),
        import("../../render/progress.js"),
      ]);
      await stopStackFromState(state, paths.stateFile, {
        progress: createProgress(ctx.terminal),
        keepDocker: options.keepDocker === true,
      });
      ctx.terminal.note("stack stopped");
    });
}
