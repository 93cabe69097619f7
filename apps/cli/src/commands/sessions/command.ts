import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../../context.js";
import { parsePositive, type RunStateName, runStateNames } from "../../options.js";
import type { SessionsOptions } from "./action.js";

function parseStateOption(value: string): RunStateName {
  const name = value.trim().toLowerCase();
  if (!(runStateNames as readonly string[]).includes(name)) {
    throw new InvalidArgumentError("expected running, rescheduling, idle or terminated");
  }
  return name as RunStateName;
}

export function registerSessions(program: Command, ctx: CliContext): void {
  program
    .command("sessions")
    .description("list sessions, newest first")
    .option(
      "--state <state>",
      "only sessions in this state: running, rescheduling, idle or terminated",
      parseStateOption,
    )
    .option("-n, --limit <n>", "show at most this many", parsePositive, 20)
    .option("--json", "print NDJSON, one session per line")
    .addHelpText(
      "after",
      `
Examples:
  $ reins sessions
  $ reins sessions --state running
  $ reins sessions --json --limit 1000 | jq -r .sessionId`,
    )
    .action(async (options: SessionsOptions, command: Command) => {
      const { listSessions } = await import("./action.js");
      await listSessions(ctx, command, options);
    });
}
