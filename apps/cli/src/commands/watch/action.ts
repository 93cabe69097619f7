import type { Event } from "@reins/proto";
import { RunState } from "@reins/proto";
import { createAsyncQueue } from "@reins/service-kit";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { subscribeDeltas } from "../../live-deltas.js";
import type { RunItem } from "../../render/run-order.js";
import { watchRun } from "../../watch-run.js";

export interface WatchOptions {
  follow?: boolean;
  natsUrl?: string;
  streamPrefix?: string;
  outputLines: number;
  json?: boolean;
}

const settles = (event: Event) =>
  event.payload.case === "sessionStatus" &&
  (event.payload.value.state === RunState.IDLE || event.payload.value.state === RunState.TERMINATED);

/**
 * `reins watch`: the log from the start merged with live text, until the run
 * that is going on settles (or, for a settled session, until the replay is
 * done); with --follow, until Ctrl-C.
 */
export async function watchSession(
  ctx: CliContext,
  command: Command,
  sessionId: string,
  options: WatchOptions,
): Promise<number> {
  const { harness, session } = await ctx.clients(command);
  const info = (await session.getSession({ sessionId })).session;
  const lastSeq = info?.lastSeq ?? 0n;
  const running = info?.state === RunState.RUNNING;
  const natsUrl =
    options.natsUrl ?? (await ctx.state(command).catch(() => undefined))?.services.find((s) => s.name === "nats")?.url;

  return watchRun(ctx, {
    sessionId,
    json: options.json === true,
    outputLines: options.outputLines,
    harness,
    session,
    onCtrlC: "leave",
    open: async function* (signal) {
      const queue = createAsyncQueue<RunItem>();
      const inner = new AbortController();
      const stop = () => inner.abort();
      signal.addEventListener("abort", stop, { once: true });
      const closeDeltas = natsUrl
        ? await subscribeDeltas(natsUrl, sessionId, (value) => queue.push({ case: "delta", value }), {
            prefix: options.streamPrefix,
          })
        : undefined;
      const pump = (async () => {
        try {
          const stream = session.streamEvents({ sessionId, afterSeq: 0n }, { signal: inner.signal });
          for await (const { event } of stream) if (event) queue.push({ case: "event", value: event });
          queue.end();
        } catch (err) {
          if (inner.signal.aborted) queue.end();
          else queue.fail(err);
        }
      })();
      try {
        for await (const item of queue) {
          yield item;
          if (options.follow || item.case !== "event") continue;
          if (running ? item.value.seq > lastSeq && settles(item.value) : item.value.seq >= lastSeq) return;
        }
      } finally {
        inner.abort();
        signal.removeEventListener("abort", stop);
        await closeDeltas?.();
        await pump;
      }
    },
  });
}
