import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type AgentConfig, type Event, EventSchema, type EventType, type RunState, type Session } from "@reins/proto";
import { currentTraceId, inSpan } from "@reins/service-kit";
import { uuidv7 } from "uuidv7";
import { type AppendResult, appendEvents, fencedPublish } from "./append/index.js";
import { resolveOptions, type SessionStoreOptions, type StoreNames } from "./config.js";
import { openConnection } from "./connection.js";
import {
  FencedError,
  InvalidRequestError,
  LogFullError,
  RateLimitedError,
  SessionExistsError,
  SessionNotFoundError,
} from "./errors.js";
import { createExecutorRegistry, type ExecutorRegistry } from "./executor-registry/index.js";
import { createKeyedMutex } from "./keyed-mutex.js";
import { createAppendLimits } from "./limits/index.js";
import {
  batchMsgId,
  createLogReader,
  createStateCache,
  encodeBatch,
  lastSeqOf,
  visibleTo,
  wireFormOf,
} from "./log/index.js";
import {
  createStreamRegistry,
  type EventsPage,
  type GetEventsOptions,
  getEvents,
  getLatestEvent,
  type LatestEventResult,
  type StreamEventsOptions,
  streamEvents,
} from "./read/index.js";
import { createSessionIndex, currentSummary } from "./session-index/index.js";
import type { StoreContext } from "./store-context.js";
import { noStoreMetrics, type StoreMetrics } from "./store-metrics.js";
import {
  checkAgentConfig,
  checkAppendBatch,
  checkEventId,
  checkSessionId,
  checkStateFilter,
  checkTitle,
} from "./validate.js";

export interface CreateSessionInput {
  /** Empty or absent: a UUIDv7 is generated. */
  readonly sessionId?: string;
  readonly config?: AgentConfig;
  readonly title?: string;
  /** Id of the `session.created` event; empty or absent: generated. */
  readonly eventId?: string;
  /** Tenant that owns the session, recorded in `session.created`; absent: "". */
  readonly tenant?: string;
  /** Events written with `session.created`, atomically, at seqs 2, 3, ... */
  readonly initialEvents?: readonly Event[];
}

/**
 * Confines an operation to one tenant's sessions. The owner is checked on the
 * very state the operation reads or writes against (under the session's lock,
 * and for appends on the state the write is fenced on), so a session deleted
 * and created again by another tenant meanwhile cannot slip through.
 */
export interface OwnerOption {
  /** Only a session of this tenant; any other is SessionNotFoundError, exactly like a missing one. Absent: any. */
  readonly tenant?: string;
}

/** The session log on JetStream plus its KV index. Errors: see errors.ts; map with toConnectError. */
export interface SessionStore extends AsyncDisposable {
  readonly names: StoreNames;
  /** True while NATS is connected and the stream and bucket exist. */
  readonly ready: boolean;
  onReadyChange(listener: (ready: boolean) => void): () => void;
  createSession(input: CreateSessionInput): Promise<{ session: Session; event: Event; initialEvents: Event[] }>;
  getSession(sessionId: string): Promise<Session>;
  listSessions(request: {
    pageSize?: number;
    pageToken?: string;
    state?: RunState;
    /** Only this tenant's sessions; absent: every tenant's. */
    tenant?: string;
  }): Promise<{ sessions: Session[]; nextPageToken: string }>;
  appendEvents(
    sessionId: string,
    expectedLastSeq: bigint | number,
    events: readonly Event[],
    options?: OwnerOption,
  ): Promise<AppendResult>;
  getEvents(sessionId: string, options?: GetEventsOptions & OwnerOption): Promise<EventsPage>;
  /**
   * The latest event of a type (undefined when the log has none) and the log's
   * last seq, read through the index: a bounded number of reads however long the
   * log is.
   */
  getLatestEvent(sessionId: string, type: EventType, options?: OwnerOption): Promise<LatestEventResult>;
  streamEvents(sessionId: string, options?: StreamEventsOptions & OwnerOption): AsyncGenerator<Event>;
  deleteSession(sessionId: string, options?: OwnerOption): Promise<{ purgedEvents: number }>;
  /** The executor registry on the `<PREFIX>_EXECUTORS` bucket (served as ExecutorRegistryService). */
  readonly executors: ExecutorRegistry;
  /** Number of StreamEvents and AppendEventsStream calls currently open. */
  readonly openStreams: number;
  /**
   * Ends every open stream with UNAVAILABLE (shutting down), e.g. before draining
   * a server; resolves once they have all finished.
   */
  endStreams(): Promise<void>;
  /**
   * Registers a stream that is not a session's (an append stream), for
   * endStreams to end and wait for; returns how to unregister it.
   */
  trackStream(end: (reason: Error) => void): () => void;
  /** Ends open streams, writes pending index entries, closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects to NATS (waiting for it if needed), creates the stream and bucket if
 * they are missing, and returns the store. `log` receives connection changes and
 * background failures (an index write that will be retried by the next append).
 */
export async function createSessionStore(
  options: SessionStoreOptions = {},
  log: (msg: string) => void = () => undefined,
  metrics: StoreMetrics = noStoreMetrics,
): Promise<SessionStore> {
  const resolved = resolveOptions(options);
  const conn = await openConnection(resolved, log);
  const reader = createLogReader({
    js: conn.js,
    jsm: conn.jsm,
    stream: resolved.names.stream,
    requestTimeoutMs: resolved.requestTimeoutMs,
  });
  const subjectOf = (sessionId: string) => `${resolved.names.eventsSubject}.${sessionId}`;
  const index = await createSessionIndex(conn.kv, log);
  const executors = await createExecutorRegistry(
    conn.executors,
    {
      ttlMs: resolved.executorTtlMs,
      heartbeatIntervalMs: resolved.executorHeartbeatIntervalMs,
      checkReady: async () => {
        conn.assertReady();
        await conn.ping();
      },
    },
    log,
  );
  const ctx: StoreContext = {
    options: resolved,
    conn,
    reader,
    cache: createStateCache({ reader, subjectOf, maxBytes: resolved.cacheMaxBytes }),
    index,
    limits: createAppendLimits(resolved),
    withLock: createKeyedMutex(),
    log,
    metrics,
    subjectOf,
    maxBatchBytes: () =>
      Math.min(resolved.maxMessageBytes, conn.nc.info?.max_payload ?? Number.POSITIVE_INFINITY) - 512,
  };
  const streams = createStreamRegistry();
  // A delete anywhere (this replica or another) ends the streams following it.
  index.onRemoved((sessionId) => {
    ctx.cache.drop(sessionId);
    streams.endSession(sessionId);
  });

  const close = async () => {
    await streams.endAll();
    await index.flush();
    index.stop();
    executors.stop();
    await conn.close();
  };

  return {
    names: resolved.names,
    get ready() {
      return conn.ready;
    },
    onReadyChange: (listener) => conn.onReadyChange(listener),
    createSession: (input) => createSession(ctx, input),
    getSession: (sessionId) => getSession(ctx, sessionId),
    async listSessions(request) {
      checkStateFilter(request.state ?? 0);
      conn.assertReady();
      // The list comes from the in-memory mirror; a live server round trip
      // makes sure it is not an outage's frozen copy.
      await conn.ping();
      await index.initialized;
      return index.list({
        pageSize: request.pageSize ?? 0,
        pageToken: request.pageToken ?? "",
        state: request.state ?? 0,
        ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      });
    },
    // The span's callback runs at once, so the append still takes the session's lock in call order.
    appendEvents: (sessionId, expectedLastSeq, events, opts = {}) =>
      inSpan(
        "@reins/session-store",
        "session.append",
        { attributes: { "reins.session.id": sessionId, "reins.append.events": events.length } },
        async (span) => {
          try {
            const result = await appendEvents(ctx, sessionId, expectedLastSeq, events, opts.tenant);
            span.setAttribute("reins.append.last_seq", result.lastSeq);
            return result;
          } catch (err) {
            if (err instanceof FencedError) metrics.refused("fenced");
            else if (err instanceof LogFullError) metrics.refused("log_full");
            else if (err instanceof RateLimitedError) metrics.refused("rate_limited");
            throw err;
          }
        },
      ),
    getEvents: (sessionId, opts = {}) => getEvents(ctx, sessionId, opts),
    getLatestEvent: (sessionId, type, opts = {}) => getLatestEvent(ctx, sessionId, type, opts.tenant),
    streamEvents: (sessionId, opts = {}) => streamEvents(ctx, streams, sessionId, opts),
    async deleteSession(sessionId, opts = {}) {
      const result = await deleteSession(ctx, sessionId, opts.tenant);
      streams.endSession(sessionId);
      return result;
    },
    executors,
    get openStreams() {
      return streams.size;
    },
    endStreams: () => streams.endAll(),
    // "" is no session's id, so no delete ever ends it.
    trackStream: (end) => streams.add("", end),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function createSession(ctx: StoreContext, input: CreateSessionInput) {
  const sessionId = input.sessionId || uuidv7();
  checkSessionId(sessionId);
  const eventId = input.eventId || uuidv7();
  checkEventId(eventId, "event_id");
  const title = input.title ?? "";
  checkTitle(title);
  if (!input.config) throw new InvalidRequestError("config is required: the session.created event records it");
  checkAgentConfig(input.config);
  const initial = input.initialEvents ?? [];
  if (initial.length > 0) checkAppendBatch(initial, "initial_events");
  const reused = initial.findIndex((e) => e.id === eventId);
  if (reused >= 0) {
    throw new InvalidRequestError(`initial_events[${reused}].id "${eventId}" is the session.created event's id`);
  }
  ctx.conn.assertReady();
  const subject = ctx.subjectOf(sessionId);
  const time = timestampFromMs(Date.now());
  const event = create(EventSchema, {
    id: eventId,
    seq: 1n,
    time,
    // The service writes this event: it carries the trace of the call that created the session.
    traceId: currentTraceId(),
    payload: { case: "sessionCreated", value: { config: input.config, title, tenant: input.tenant ?? "" } },
  });
  // One message: the session never exists without its initial events. (No rate
  // is charged: a new session's budget is full, and the batch limits bound it.)
  const events = [event, ...initial.map((e, i) => ({ ...e, seq: BigInt(2 + i), time }))];
  const ids = events.map((e) => e.id);

  return ctx.withLock(sessionId, async () => {
    // Fenced on "the subject is empty": of two concurrent creates one wins.
    const outcome = await fencedPublish(ctx, subject, encodeBatch(events), batchMsgId(sessionId, 0, ids), 0, ids);
    if (outcome.kind === "written") {
      // The first batch of a session is an append like any other to whoever counts them.
      ctx.metrics.appended(events.length, outcome.size);
      const state = ctx.cache.adoptCreated(sessionId, {
        streamSeq: outcome.streamSeq,
        size: outcome.size,
        wire: events.map((e) => wireFormOf(e) as Uint8Array),
        events,
      });
      await ctx.index.write(sessionId, () => state.summary());
      return { session: state.summary(), event, initialEvents: events.slice(1) };
    }
    const state = await ctx.cache.load(sessionId);
    // Fenced on an empty subject that is empty again: deleted meanwhile.
    if (!state) throw new SessionNotFoundError(sessionId);
    if (state.createdEventId !== eventId) throw new SessionExistsError(sessionId, state.createdEventId);
    // A retry of our own create: answer with the original, which holds the same initial events.
    const created = state.at(1);
    if (!created) throw new SessionNotFoundError(sessionId);
    const written = initial.map((_, i) => state.at(2 + i));
    if (written.some((w, i) => w?.id !== initial[i]?.id)) throw new SessionExistsError(sessionId, eventId);
    await ctx.index.write(sessionId, () => state.summary());
    return { session: state.summary(), event: created, initialEvents: written as Event[] };
  });
}

async function getSession(ctx: StoreContext, sessionId: string): Promise<Session> {
  checkSessionId(sessionId);
  ctx.conn.assertReady();
  // Totals and state come from the index, caught up over what it lacks: the log
  // is not folded from seq 1 (see session-index/current-summary.ts).
  const current = await currentSummary(ctx, sessionId);
  if (!current) throw new SessionNotFoundError(sessionId);
  return current.summary;
}

async function deleteSession(
  ctx: StoreContext,
  sessionId: string,
  tenant: string | undefined,
): Promise<{ purgedEvents: number }> {
  checkSessionId(sessionId);
  ctx.conn.assertReady();
  return ctx.withLock(sessionId, async () => {
    const subject = ctx.subjectOf(sessionId);
    if (tenant !== undefined) {
      // Under the lock, so no create or delete through this replica lands between
      // the check and the purge (across replicas, see SECURITY.md).
      if (!visibleTo(await ctx.cache.load(sessionId), tenant)) throw new SessionNotFoundError(sessionId);
    }
    const last = await ctx.reader.last(subject);
    const indexed = ctx.index.get(sessionId);
    if (!last && !indexed) throw new SessionNotFoundError(sessionId);
    // Log first, index second: a crash in between leaves an index entry without
    // a log, which GetSession recognises and removes.
    if (last) await ctx.conn.jsm.streams.purge(ctx.options.names.stream, { filter: subject });
    ctx.cache.drop(sessionId);
    await ctx.index.remove(sessionId);
    return { purgedEvents: last ? lastSeqOf(last) : 0 };
  });
}
