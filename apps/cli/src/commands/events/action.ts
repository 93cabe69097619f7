import { type Event, type EventType, parseEventTypeName } from "@reins/proto";
import type { Command } from "commander";
import { InterruptedError, UsageError } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { onInterrupt } from "../../interrupts.js";
import { renderEvent } from "../../render/event-lines.js";
import { eventJson } from "../../render/json-lines.js";

export interface EventsOptions {
  follow?: boolean;
  json?: boolean;
  after: number;
  type?: string[];
  outputLines: number;
  traceIds?: boolean;
}

function parseTypes(names: readonly string[]): EventType[] {
  return names.map((name) => {
    const type = parseEventTypeName(name);
    if (type === undefined) throw new UsageError(`unknown event type "${name}" (see reins events --help)`);
    return type;
  });
}

/** `reins events`: GetEvents pages, or StreamEvents with --follow until Ctrl-C. */
export async function printEvents(
  ctx: CliContext,
  command: Command,
  sessionId: string,
  options: EventsOptions,
): Promise<void> {
  const types = parseTypes(options.type ?? []);
  const { session } = await ctx.clients(command);
  const render = {
    colors: ctx.terminal.colors,
    width: ctx.terminal.columns,
    outputLines: options.outputLines === 0 ? Number.POSITIVE_INFINITY : options.outputLines,
    traceIds: options.traceIds === true,
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
}
