import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseSessionId } from "../../options.js";
import type { DecideOptions } from "../approve/action.js";

/** `reins deny`: refuses a tool call a session waits for; the model reads the reason. */
export function registerDeny(program: Command, ctx: CliContext): void {
  program
    .command("deny")
    .description("deny a tool call that a session waits for (always_ask tools); without an id, every one")
    .argument("<session-id>", "the session", parseSessionId)
    .argument("[tool-use-id]", "the call, as named by the session's requires_action status")
    .option("-r, --reason <text>", "what the model reads as the call's error result")
    .option("--json", "print one NDJSON line per decision, with the calls still waiting")
    .addHelpText(
      "after",
      '\nExample:\n  $ reins deny 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e toolu_01A2B3 --reason "not on production"',
    )
    .action(async (sessionId: string, toolUseId: string | undefined, options: DecideOptions, command: Command) => {
      const { decide } = await import("../approve/action.js");
      process.exitCode = await decide(ctx, command, sessionId, toolUseId, false, options);
    });
}
