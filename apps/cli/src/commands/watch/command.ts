import { type Command, Option } from "commander";
import type { CliContext } from "../../context.js";
import { parseCount, parseSessionId } from "../../options.js";
import type { WatchOptions } from "./action.js";

export function registerWatch(program: Command, ctx: CliContext): void {
  program
    .command("watch")
    .description("show a session as `reins run` does: its transcript so far, then its current run live")
    .argument("<session-id>", "the session", parseSessionId)
    .option("-f, --follow", "keep watching after the run ends (later runs too) until Ctrl-C")
    .addOption(
      new Option("--nats-url <url>", "NATS server for live text (default: the local stack's)").env("REINS_NATS_URL"),
    )
    .addOption(
      new Option(
        "--stream-prefix <prefix>",
        "the deployment's name prefix on NATS, as the harness's (default REINS)",
      ).env("REINS_STREAM_PREFIX"),
    )
    .option("--output-lines <n>", "lines of tool output to show per call", parseCount, 12)
    .option("--json", "print NDJSON (events and text deltas, then the session)")
    .addHelpText(
      "after",
      `
Ctrl-C stops watching; the session itself goes on (use \`reins interrupt\` to stop it).
Live text needs NATS (the local stack's, or --nats-url); without it each answer
appears when the model finishes it.

Examples:
  $ reins wake <id> && reins watch <id>
  $ reins watch <id> --follow`,
    )
    .action(async (sessionId: string, options: WatchOptions, command: Command) => {
      const { watchSession } = await import("./action.js");
      process.exitCode = await watchSession(ctx, command, sessionId, options);
    });
}
