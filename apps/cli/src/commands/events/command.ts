import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { collectList, parseCount, parseSessionId } from "../../options.js";
import type { EventsOptions } from "./action.js";

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command("events")
    .description("print a session's event log")
    .argument("<session-id>", "the session", parseSessionId)
    .option("-f, --follow", "keep streaming new events as they are written (Ctrl-C to stop)")
    .option("--after <seq>", "only events after this seq", parseCount, 0)
    .option("--type <names>", "only these event types, comma-separated (e.g. agent.tool_result)", collectList)
    .option("--output-lines <n>", "lines of tool output to show per result (0: all)", parseCount, 12)
    .option("--trace-ids", "show the trace id each event was written in (for looking up its trace)")
    .option("--json", "print NDJSON, one event per line (with traceId when set)")
    .addHelpText(
      "after",
      `
Event types: session.created, user.message, user.interrupt, agent.message,
agent.tool_use_started, agent.tool_result, session.status, span.model_request,
session.error.

Examples:
  $ reins events 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e
  $ reins events <id> --follow
  $ reins events <id> --trace-ids
  $ reins events <id> --type agent.tool_result --json | jq -r .agentToolResult.output`,
    )
    .action(async (sessionId: string, options: EventsOptions, command: Command) => {
      const { printEvents } = await import("./action.js");
      await printEvents(ctx, command, sessionId, options);
    });
}
