import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { parseSessionId } from "../../options.js";
import type { DeleteOptions } from "./action.js";

export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command("delete")
    .description("delete sessions: their event log and index entry, and their executor workspace")
    .argument("<session-id...>", "the sessions", (value: string, previous: string[] = []) => [
      ...previous,
      parseSessionId(value),
    ])
    .option("--keep-workspace", "leave the sessions' workspace volumes on the executor")
    .addHelpText(
      "after",
      `
The workspace is removed through the executor the session is placed on (its
session.placed events, with REINS_EXECUTOR_TOKEN), or, for a session never
placed, the configured one (the local stack's, or REINS_EXECUTOR_URL). Exit
status 1 if any part failed.

Example:
  $ reins sessions --json | jq -r .sessionId | xargs reins delete`,
    )
    .action(async (ids: string[], options: DeleteOptions, command: Command) => {
      const { deleteSessions } = await import("./action.js");
      process.exitCode = await deleteSessions(ctx, command, ids, options);
    });
}
