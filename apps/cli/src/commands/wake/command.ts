import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseSessionId } from "../../options.js";

/** `reins wake`: one RPC, one confirmation line. */
export function registerWake(program: Command, ctx: CliContext): void {
  program
    .command("wake")
    .description("resume a session from its log (after a crash, or to continue it)")
    .argument("<session-id>", "the session", parseSessionId)
    .addHelpText(
      "after",
      "\nExample:\n  $ reins wake 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e && reins watch 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e",
    )
    .action(async (sessionId: string, _options: unknown, command: Command) => {
      const { harness } = await ctx.clients(command);
      const res = await harness.wake({ sessionId });
      ctx.terminal.print(`woke ${sessionId} (log at seq ${res.lastSeq}); watch it with: reins watch ${sessionId}`);
    });
}
