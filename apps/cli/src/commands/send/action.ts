import { readFileSync } from "node:fs";
import { RunState } from "@reins/proto";
import type { Command } from "commander";
import { uuidv7 } from "uuidv7";
import { UsageError } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { watchRun } from "../../watch-run.js";

export interface SendOptions {
  json?: boolean;
  outputLines: number;
  detach?: boolean;
}

/** `reins send`: SendMessage, then the session's events from that message until it settles. */
export async function sendMessage(
  ctx: CliContext,
  command: Command,
  sessionId: string,
  words: string[],
  options: SendOptions,
): Promise<number> {
  const text = (words.length === 1 && words[0] === "-" ? readFileSync(0, "utf8") : words.join(" ")).trim();
  if (!text) throw new UsageError("the message is empty");
  const { harness, session } = await ctx.clients(command);
  // A fixed event id makes a retried SendMessage harmless.
  const { seq } = await harness.sendMessage({ sessionId, message: text, eventId: uuidv7() });
  if (options.detach) {
    ctx.terminal.print(
      `sent to ${sessionId} (user.message at seq ${seq}); follow it with: reins events ${sessionId} -f`,
    );
    return 0;
  }
  return watchRun(ctx, {
    sessionId,
    json: options.json === true,
    outputLines: options.outputLines,
    harness,
    session,
    onCtrlC: "interrupt",
    open: async function* (signal) {
      // From the message on, until the first status that settles the run it started.
      for await (const { event } of session.streamEvents({ sessionId, afterSeq: seq - 1n }, { signal })) {
        if (!event) continue;
        yield { case: "event", value: event };
        const p = event.payload;
        const settled =
          p.case === "sessionStatus" && (p.value.state === RunState.IDLE || p.value.state === RunState.TERMINATED);
        if (settled && event.seq > seq) return;
      }
    },
  });
}
