import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Event, type RunSessionResponseSchema, RunState, type TextDelta } from "@reins/proto";
import { createAsyncQueue } from "@reins/service-kit";
import type { SessionClient } from "../log/index.js";
import type { DeltaBus } from "../model/index.js";

export interface RunStreamOptions {
  readonly sessions: SessionClient;
  readonly deltas?: DeltaBus;
  readonly sessionId: string;
  /** Seq of the user message that started the run: the run ends at the first
   * idle or terminated status after it. */
  readonly messageSeq: bigint;
  /** The viewer left: stop streaming (the session runs on). */
  readonly signal: AbortSignal;
  /** Starts the run, once the live text subscription is in place. */
  readonly start: () => void;
}

type Item = { case: "event"; value: Event } | { case: "delta"; value: TextDelta };

/**
 * A run as one stream: the session's events (replayed from the start, then
 * live, from the session service) merged with the live text deltas of core
 * NATS, until the run goes idle or terminates. Wherever the loop runs, the
 * viewer sees it: everything comes through the log and the bus.
 */
export async function* streamRun(
  options: RunStreamOptions,
): AsyncGenerator<MessageInitShape<typeof RunSessionResponseSchema>> {
  const queue = createAsyncQueue<Item>();
  const done = new AbortController();
  const leave = () => done.abort();
  options.signal.addEventListener("abort", leave, { once: true });
  const unsubscribe = options.deltas
    ? await options.deltas.subscribe(options.sessionId, (value) => queue.push({ case: "delta", value }))
    : () => {};
  const pump = (async () => {
    try {
      const stream = options.sessions.streamEvents(
        { sessionId: options.sessionId, afterSeq: 0n },
        { signal: done.signal },
      );
      for await (const { event } of stream) if (event) queue.push({ case: "event", value: event });
      queue.end();
    } catch (err) {
      if (done.signal.aborted) queue.end();
      else queue.fail(err);
    }
  })();
  try {
    options.start();
    for await (const item of queue) {
      yield { item };
      if (item.case === "event" && endsRun(item.value, options.messageSeq)) return;
    }
  } finally {
    done.abort();
    options.signal.removeEventListener("abort", leave);
    unsubscribe();
    await pump;
  }
}

function endsRun(event: Event, after: bigint): boolean {
  if (event.seq <= after || event.payload.case !== "sessionStatus") return false;
  const state = event.payload.value.state;
  return state === RunState.IDLE || state === RunState.TERMINATED;
}
