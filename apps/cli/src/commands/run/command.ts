import { type Command, Option } from "commander";
import type { CliContext } from "../../context.js";
import { collectList, parseCount, parseDurationMs, parsePositive, parseSessionId } from "../../options.js";
import type { RunOptions } from "./action.js";

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command("run")
    .description("start a session with a task and stream it live until it is idle")
    .argument("<task...>", 'what the agent should do (quote it, or "-" to read it from stdin)')
    .option("-m, --model <id>", "model, e.g. claude-sonnet-4-5 (default: the harness's)")
    .option(
      "-t, --tools <names>",
      "executor tools the agent may use, comma-separated or repeated (default: every tool of the local stack's executor; see `reins tools`)",
      collectList,
    )
    .option("--no-tools", "give the agent no tools")
    .option(
      "--ask <names>",
      "tools whose every call waits for your y/N (always_ask), comma-separated or repeated",
      collectList,
    )
    .option("-s, --system <prompt>", "system prompt")
    .option("--max-turns <n>", "stop after this many model requests", parsePositive)
    .option("--max-tokens <n>", "max output tokens per model response", parsePositive)
    .option("--token-budget <n>", "stop once input + output tokens reach this", parsePositive)
    .addOption(
      new Option("--wall-time <duration>", 'stop after this long, e.g. "90s", "5m"').argParser(parseDurationMs),
    )
    .option("--title <title>", "session title (default: the start of the task)")
    .option("--session-id <id>", "use this session id (default: generated)", parseSessionId)
    .option("--output-lines <n>", "lines of tool output to show per call", parseCount, 12)
    .option("--json", "print NDJSON (one event or text delta per line, then the session)")
    .addHelpText(
      "after",
      `
Examples:
  $ reins run "write a Python script that prints the first 10 primes, run it, report the output"
  $ reins run --tools bash --max-turns 5 "how much disk space does /tmp have?"
  $ echo "summarise README.md" | reins run -
  $ reins run --json "list the files in /workspace" | jq -r 'select(.type=="agent.tool_result").agentToolResult.output'

With --ask, the run stops before each such call: on a terminal it shows the call
and asks y/N; otherwise it ends with the session waiting (reins approve / deny),
and --json prints a "requires_action" line naming the calls.

Ctrl-C interrupts the session (the harness stops the turn and records it); press it
again to stop waiting. Exit status: 0 when the agent finished its turn, 1 when the
session ended in an error or at a limit, 130 when interrupted.`,
    )
    .action(async (task: string[], options: RunOptions, command: Command) => {
      const { runTask } = await import("./action.js");
      process.exitCode = await runTask(ctx, command, task, options);
    });
}
