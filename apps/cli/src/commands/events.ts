import type { Event } from "@reins/proto";
import { type EventType, parseEventTypeName } from "@reins/proto";
import { type Command, InvalidArgumentError } from "commander";
import { InterruptedError } from "../cli-error.js";
import type { CliContext } from "../context.js";
import { onInterrupt } from "../interrupts.js";
import { collectList, parseCount, parseSessionId } from "../options.js";
import { renderEvent } from "../render/event-lines.js";
import { eventJson } from "../render/json-lines.js";

interface EventsOptions {
  follow?: boolean;
  json?: boolean;
  after: number;
  type?: string[];
  outputLines: number;
}

function parseTypes(names: readonly string[]): EventType[] {
  return names.map((name) => {
    const type = parseEventTypeName(name);
    if (type === undefined) {
      throw new InvalidArgumentError(
        `unknown event type "${name}" (one of session.created, user.message, user.interrupt, agent.message, agent.tool_use_started, agent.tool_result, session.status, span.model_request, session.error)`,
      );
    }
    return type;
  });
}

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command("events")
    .description("print a session's event log")
    .argument("<session-id>", "the session", parseSessionId)
    .option("-f, --follow", "keep streaming new events as they are written (Ctrl-C to stop)")
    .option("--after <seq>", "only events after this seq", parseCount, 0)
    .option(
      "--type <names>",
      "only these event types, comma-separated (e.g. agent.tool_result)",
      (v, prev: string[]) => {
        const list = collectList(v, prev);
        parseTypes(list);
        return list;
      },
    )
    .option("--output-lines <n>", "lines of tool output to show per result (0: all)", parseCount, 12)
    .option("--json", "print NDJSON, one event per line")
    .addHelpText(
      "after",
      `
Examples:
  $ reins events 0196b2c4-1f0e-7c2a-9e8d-3f4a5b6c7d8e
  $ reins events <id> --follow
  $ reins events <id> --type agent.tool_result --json | jq -r .agentToolResult.output`,
    )
    .action(async (sessionId: string, options: EventsOptions, command: Command) => {
      const { session } = await ctx.clients(command);
      const types = parseTypes(options.type ?? []);
      const render = {
        colors: ctx.terminal.colors,
        width: ctx.terminal.columns,
        outputLines: options.outputLines === 0 ? Number.POSITIVE_INFINITY : options.outputLines,
      };
      const print = (event: Event) => {
        if (options.json) ctx.terminal.print(eventJson(event));
        else for (const line of renderEvent(event, render)) ctx.terminal.print(line);
      };

      if (!options.follow) {
        let after = BigInt(options.after);
        for (;;) {
          const page = await session.getEvents({ sessionId, afterSeq: after, limit: 1000, types });
          for (const event of page.events) print(event);
          // Stop at the end of the log, or if the service made no progress.
          if (page.nextAfterSeq <= after || page.nextAfterSeq >= page.lastSeq) break;
          after = page.nextAfterSeq;
        }
        return;
      }

      const abort = new AbortController();
      const remove = onInterrupt(
        () => abort.abort(),
        () => abort.abort(),
      );
      try {
        const stream = session.streamEvents(
          { sessionId, afterSeq: BigInt(options.after), types },
          { signal: abort.signal },
        );
        for await (const res of stream) if (res.event) print(res.event);
      } catch (err) {
        // Ctrl-C is how a follow ends; anything else is a real error.
        if (abort.signal.aborted) throw new InterruptedError("stopped following");
        throw err;
      } finally {
        remove();
      }
    });
}
