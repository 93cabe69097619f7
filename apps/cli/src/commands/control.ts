import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { parseSessionId } from "../options.js";

/** `reins wake` and `reins interrupt`: one RPC each, one confirmation line. */
export function registerControl(program: Command, ctx: CliContext): void {
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
