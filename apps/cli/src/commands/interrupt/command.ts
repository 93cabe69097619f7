import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseSessionId } from "../../options.js";

/** `reins interrupt`: one RPC, one confirmation line. */
export function registerInterrupt(program: Command, ctx: CliContext): void {
  program
    .command("interrupt")
    .description("stop a session's current turn (cancels the model stream or tool call in flight)")
    .argument("<session-id>", "the session", parseSessionId)
    .option("-r, --reason <text>", "why, recorded in the user.interrupt event")
    .addHelpText(
      "after",
      '\nExample:\n  $ reins interrupt 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e --reason "wrong directory"',
    )
    .action(async (sessionId: string, options: { reason?: string }, command: Command) => {
      const { harness } = await ctx.clients(command);
      const res = await harness.interrupt({ sessionId, reason: options.reason ?? "" });
      ctx.terminal.print(`interrupted ${sessionId} (user.interrupt at seq ${res.seq})`);
    });
}
