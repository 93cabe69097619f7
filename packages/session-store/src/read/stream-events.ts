import { type Event, type EventType, eventTypeOf } from "@reins/proto";
import { type ConsumerMessages, DeliverPolicy, type JsMsg } from "nats";
import { SessionNotFoundError, StoreUnavailableError, StreamLagError } from "../errors.js";
import { decodeBatch, visibleTo } from "../log/index.js";
import type { StoreContext } from "../store-context.js";
import { checkSessionId, checkTypes } from "../validate.js";

export interface StreamEventsOptions {
  readonly afterSeq?: bigint | number;
  readonly types?: readonly EventType[];
  /** Ends the stream (normally) when aborted: the client left. */
  readonly signal?: AbortSignal;
  /** Only a session of this tenant: any other is SessionNotFoundError. */
  readonly tenant?: string;
}

// What a batch waiting in a stream's queue holds beyond its payload (the
// message object, its subject and reply strings, the delivery info): counted
// so that a lag of many small batches is bounded too.
const queuedMessageOverhead = 512;

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
 * Replays a session's log after `afterSeq`, then follows it live. The replay
 * comes from the replica's copy of the log as of one moment (last seq N, last
 * stream sequence S); the live part is an ordered consumer starting at stream
 * sequence S + 1. Every batch is either at or below S (replayed) or above it
 * (delivered by the consumer), so the boundary has no gap and no duplicate.
 * The consumer is deleted when the stream ends.
 *
 * Batches the consumer delivers wait in a queue until the reader's connection
 * takes them (HTTP/2 flow control holds the generator while the client does
 * not read). A reader whose queue outgrows `maxStreamLagBytes` is dropped: the
 * queue is freed and the consumer stopped at once, and the reader gets a
 * StreamLagError after the events it was already sent. Other streams of the
 * session have their own queues and go on.
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
  let queuedBytes = 0;
  const maxLagBytes = ctx.options.maxStreamLagBytes;
  // Seq of the last event handed to the reader (or passed over by its filter):
  // where a dropped reader resumes.
  let sentSeq = afterSeq;
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
    // Checked on the snapshot that is replayed; a later delete (and create) ends the stream.
    if (!visibleTo(state, options.tenant)) throw new SessionNotFoundError(sessionId);
    const snapshotSeq = state.lastSeq;
    const consumer = await ctx.conn.js.consumers.get(ctx.options.names.stream, {
      filterSubjects: ctx.subjectOf(sessionId),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: state.lastStreamSeq + 1,
    });
    deleteConsumer = () => consumer.delete();
    messages = await consumer.consume({
      max_messages: 256,
      callback: (m) => {
        if (ended) return;
        queuedBytes += m.data.length + queuedMessageOverhead;
        if (queuedBytes > maxLagBytes) {
          queue.length = 0;
          queuedBytes = 0;
          messages?.stop();
          void deleteConsumer?.().catch(() => undefined);
          end(new StreamLagError(sessionId, maxLagBytes, sentSeq));
          return;
        }
        queue.push(m);
        wake?.();
      },
    });

    const matches = (event: Event) => types.size === 0 || types.has(eventTypeOf(event));
    for (let seq = afterSeq + 1; seq <= snapshotSeq; seq++) {
      if (options.signal?.aborted || ended) break;
      const wanted = types.size === 0 || types.has(state.typeAt(seq));
      sentSeq = seq;
      if (wanted) yield state.at(seq) as Event;
    }
    if (ended) throw ended;

    // Live: every batch must start right after the previous one; a log that
    // starts over means the session was deleted (and maybe created again).
    let expectedFirst = snapshotSeq + 1;
    while (!options.signal?.aborted) {
      const m = queue.shift();
      if (m) {
        queuedBytes -= m.data.length + queuedMessageOverhead;
        const events = decodeBatch(m.data);
        if (Number(events[0]?.seq ?? 0) !== expectedFirst) throw new SessionNotFoundError(sessionId);
        expectedFirst += events.length;
        for (const event of events) {
          if (Number(event.seq) <= afterSeq) continue;
          sentSeq = Number(event.seq);
          if (!matches(event)) continue;
          yield event;
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
