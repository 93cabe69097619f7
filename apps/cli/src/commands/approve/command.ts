import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseSessionId } from "../../options.js";
import type { DecideOptions } from "./action.js";

/** `reins approve`: allows a tool call a session waits for. */
export function registerApprove(program: Command, ctx: CliContext): void {
  program
    .command("approve")
    .description("allow a tool call that a session waits for (always_ask tools); without an id, every one")
    .argument("<session-id>", "the session", parseSessionId)
    .argument("[tool-use-id]", "the call, as named by the session's requires_action status")
    .option("--json", "print one NDJSON line per decision, with the calls still waiting")
    .addHelpText("after", "\nExample:\n  $ reins approve 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e toolu_01A2B3")
    .action(async (sessionId: string, toolUseId: string | undefined, options: DecideOptions, command: Command) => {
      const { decide } = await import("./action.js");
      process.exitCode = await decide(ctx, command, sessionId, toolUseId, true, options);
    });
}
