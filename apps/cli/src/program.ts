import { Command, Option } from "commander";
import { registerApprove } from "./commands/approve/command.js";
import { registerDelete } from "./commands/delete/command.js";
import { registerDeny } from "./commands/deny/command.js";
import { registerDown } from "./commands/down/command.js";
import { registerEvents } from "./commands/events/command.js";
import { registerExecutors } from "./commands/executors/command.js";
import { registerInterrupt } from "./commands/interrupt/command.js";
import { registerRun } from "./commands/run/command.js";
import { registerSend } from "./commands/send/command.js";
import { registerSessions } from "./commands/sessions/command.js";
import { registerStatus } from "./commands/status/command.js";
import { registerTools } from "./commands/tools/command.js";
import { registerUp } from "./commands/up/command.js";
import { registerWake } from "./commands/wake/command.js";
import { registerWatch } from "./commands/watch/command.js";
import type { CliContext } from "./context.js";

export const version = "0.1.0";

/** The `reins` command tree. Parsing errors throw (exitOverride) so main maps them to exit code 2. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command("reins")
    .description("Run AI agents: a stateless harness, a durable session log and single-use sandboxes, over gRPC.")
    .version(version, "-V, --version")
    .addOption(
      new Option("--harness-url <url>", "harness address (default: the running stack's, else 127.0.0.1:7002)").env(
        "REINS_HARNESS_URL",
      ),
    )
    .addOption(
      new Option(
        "--session-url <url>",
        "session service address (default: the running stack's, else 127.0.0.1:7001)",
      ).env("REINS_SESSION_URL"),
    )
    .addOption(
      new Option("--executor-url <url>", "executor address, for `reins tools` (default: the running stack's)").env(
        "REINS_EXECUTOR_URL",
      ),
    )
    .addOption(new Option("--token <token>", "bearer token for services that require one").env("REINS_TOKEN"))
    .addOption(
      new Option("--state-dir <dir>", "where `reins up` keeps its state (default <repo>/.reins)").env(
        "REINS_STATE_DIR",
      ),
    )
    .option("--no-color", "never colour the output (also NO_COLOR=1; FORCE_COLOR=1 forces it)")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => ctx.terminal.out.write(s),
      writeErr: (s) => ctx.terminal.err.write(s),
      outputError: (s, write) => write(ctx.terminal.errColors.red(s)),
    })
    .addHelpText(
      "after",
      `
Examples:
  $ reins up                               # start the stack (Ctrl-C stops it)
  $ reins run "write a Python script that prints the first 10 primes, run it, report the output"
  $ reins sessions                         # list sessions
  $ reins watch <id>                       # a session as run shows it, live
  $ reins events <id> --follow             # follow a session's log
  $ reins send <id> "now the first 20"     # continue an idle session
  $ reins interrupt <id>; reins wake <id>  # stop a turn; resume a session
  $ reins approve <id>; reins deny <id> -r R  # decide on tool calls a session waits for
  $ reins executors; reins executors drain <id>  # sandbox hosts and their load; drain one

Exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted.
Colour only on a terminal (NO_COLOR / FORCE_COLOR are honoured).`,
    );
  registerUp(program, ctx);
  registerRun(program, ctx);
  registerSend(program, ctx);
  registerSessions(program, ctx);
  registerEvents(program, ctx);
  registerWatch(program, ctx);
  registerWake(program, ctx);
  registerInterrupt(program, ctx);
  registerApprove(program, ctx);
  registerDeny(program, ctx);
  registerDelete(program, ctx);
  registerTools(program, ctx);
  registerExecutors(program, ctx);
  registerStatus(program, ctx);
  registerDown(program, ctx);
  // Subcommands inherit the same error handling and output.
  for (const sub of program.commands) {
    sub.exitOverride().showHelpAfterError("(run with --help for usage)").configureOutput(program.configureOutput());
  }
  return program;
}
