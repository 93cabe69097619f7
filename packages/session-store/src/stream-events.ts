import { type Event, type EventType, eventTypeOf } from "@reins/proto";
import { type ConsumerMessages, DeliverPolicy, type JsMsg } from "nats";
import { decodeBatch } from "./batch-codec.js";
import { SessionNotFoundError, StoreUnavailableError } from "./errors.js";
import type { StoreContext } from "./store-context.js";
import { checkSessionId, checkTypes } from "./validate.js";

export interface StreamEventsOptions {
  readonly afterSeq?: bigint | number;
  readonly types?: readonly EventType[];
  /** Ends the stream (normally) when aborted: the client left. */
  readonly signal?: AbortSignal;
}

/** Ends open streams from outside: on delete of their session, or on shutdown. */
export interface StreamRegistry {
  endSession(sessionId: string): void;
  /** Ends every open stream; resolves once all of them have finished. */
  endAll(): Promise<void>;
  add(sessionId: string, end: (reason: Error) => void): () => void;
  readonly size: number;
}

export function createStreamRegistry(): StreamRegistry {
  const open = new Map<string, Set<(reason: Error) => void>>();
  let size = 0;
  const idleWaiters = new Set<() => void>();
  return {
    endSession(sessionId) {
      for (const end of open.get(sessionId) ?? []) end(new SessionNotFoundError(sessionId));
    },
    endAll() {
      for (const ends of open.values())
        for (const end of ends) end(new StoreUnavailableError("the session store is shutting down"));
      if (size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.add(resolve));
    },
    add(sessionId, end) {
      const ends = open.get(sessionId) ?? new Set();
      open.set(sessionId, ends);
      ends.add(end);
      size += 1;
      return () => {
        if (ends.delete(end)) size -= 1;
        if (ends.size === 0 && open.get(sessionId) === ends) open.delete(sessionId);
        if (size === 0) {
          for (const resolve of idleWaiters) resolve();
          idleWaiters.clear();
        }
      };
    },
    get size() {
      return size;
    },
  };
}

/**
 * Replays a session's log after `afterSeq`, then follows it live. One ordered
 * consumer does both: it starts at the batch holding `afterSeq + 1` and simply
 * keeps delivering what is appended later, so the replay/live boundary has no
 * gap and no duplicate by construction. Events at or below `afterSeq` in the
 * first batch are skipped. The consumer is deleted when the stream ends.
 */
export async function* streamEvents(
  ctx: StoreContext,
  registry: StreamRegistry,
  sessionId: string,
  options: StreamEventsOptions,
): AsyncGenerator<Event> {
  checkSessionId(sessionId);
  const types = checkTypes(options.types ?? []);
  const afterSeq = Number(options.afterSeq ?? 0);
  ctx.conn.assertReady();

  const queue: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let ended: Error | undefined;
  const end = (reason: Error) => {
    ended ??= reason;
    wake?.();
  };
  // Registered before the log is read, so a delete that lands after the read
  // still ends this stream; one that landed before makes the read say NOT_FOUND.
  const unregister = registry.add(sessionId, end);
  const onAbort = () => wake?.();
  options.signal?.addEventListener("abort", onAbort);

  let messages: ConsumerMessages | undefined;
  let deleteConsumer: (() => Promise<unknown>) | undefined;
  try {
    const state = await ctx.cache.load(sessionId);
    if (!state) throw new SessionNotFoundError(sessionId);
    const startStreamSeq =
      afterSeq < state.lastSeq ? state.streamSeqAt(state.batchIndexOf(afterSeq + 1)) : state.lastStreamSeq + 1;
    const consumer = await ctx.conn.js.consumers.get(ctx.options.names.stream, {
      filterSubjects: ctx.subjectOf(sessionId),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startStreamSeq,
    });
    deleteConsumer = () => consumer.delete();
    messages = await consumer.consume({
      max_messages: 256,
      callback: (m) => {
        queue.push(m);
        wake?.();
      },
    });

    let next = afterSeq + 1;
    // Seq the next batch must start at; 0 until the first batch is seen.
    let expectedFirst = 0;
    while (!options.signal?.aborted) {
      const m = queue.shift();
      if (m) {
        const events = decodeBatch(m.data);
        const firstSeq = Number(events[0]?.seq ?? 0);
        // Batches after the first continue exactly where the previous ended; a
        // log starting over means the session was deleted (and maybe recreated).
        if (expectedFirst === 0 ? firstSeq > next : firstSeq !== expectedFirst) {
          throw new SessionNotFoundError(sessionId);
        }
        expectedFirst = Number(events[events.length - 1]?.seq ?? 0) + 1;
        for (const event of events) {
          const seq = Number(event.seq);
          if (seq < next) continue;
          next = seq + 1;
          if (types.size === 0 || types.has(eventTypeOf(event))) yield event;
          if (options.signal?.aborted || ended) break;
        }
        continue;
      }
      if (ended) throw ended;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    unregister();
    messages?.stop();
    // Awaited, so a stream that has ended holds no server-side consumer.
    await deleteConsumer?.().catch(() => undefined);
  }
}
