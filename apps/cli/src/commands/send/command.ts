import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseCount, parseSessionId } from "../../options.js";
import type { SendOptions } from "./action.js";

export function registerSend(program: Command, ctx: CliContext): void {
  program
    .command("send")
    .description("continue an idle session with a message and stream the run it starts")
    .argument("<session-id>", "the session", parseSessionId)
    .argument("<message...>", 'the message (quote it, or "-" to read it from stdin)')
    .option("-d, --detach", "record the message and return without waiting for the run")
    .option("--output-lines <n>", "lines of tool output to show per call", parseCount, 12)
    .option("--json", "print NDJSON (one event per line, then the session)")
    .addHelpText(
      "after",
      `
Live text is not shown here (only \`reins run\` streams it); each answer appears
when the model finishes it. Ctrl-C interrupts the run, exit codes as for run.

Example:
  $ reins send 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e "now the first 20"`,
    )
    .action(async (sessionId: string, message: string[], options: SendOptions, command: Command) => {
      const { sendMessage } = await import("./action.js");
      process.exitCode = await sendMessage(ctx, command, sessionId, message, options);
    });
}
