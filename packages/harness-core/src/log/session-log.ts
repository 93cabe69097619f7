import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { DurationSchema, durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventSchema, RunState, type SessionService, StopReason } from "@reins/proto";
import { currentTraceId, isAppendFenced } from "@reins/service-kit";
import pRetry from "p-retry";
import { uuidv7 } from "uuidv7";
import { OwnershipLostError, SessionLogFullError } from "../errors.js";
import { loadFromCheckpoint } from "./checkpoint-load.js";
import { createSessionFold, type SessionFold } from "./fold.js";
import { sessionError, sessionStatus } from "./payloads.js";

export type SessionClient = Client<typeof SessionService>;
export type EventPayload = Event["payload"];

/** The google.rpc.RetryInfo delay of an error, in ms, when the service said when to retry. */
export function retryDelayOf(err: ConnectError): number | undefined {
  for (const detail of err.details) {
    if (!("type" in detail) || detail.type !== "google.rpc.RetryInfo") continue;
    try {
      const reader = new BinaryReader(detail.value);
      while (reader.pos < reader.len) {
        const [no, wireType] = reader.tag();
        if (no === 1) return durationMs(fromBinary(DurationSchema, reader.bytes()));
        reader.skip(wireType);
      }
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * RESOURCE_EXHAUSTED for a quota (google.rpc.QuotaFailure) with no hint of when
 * to retry: the session service's log size limit, which no retry gets past.
 * Its events-per-second limit comes with a RetryInfo and is waited out.
 */
export function isLogFull(err: ConnectError): boolean {
  return (
    err.code === Code.ResourceExhausted &&
    err.details.some((d) => "type" in d && d.type === "google.rpc.QuotaFailure") &&
    retryDelayOf(err) === undefined
  );
}

/** Longest wait for a retry the service asked for; beyond it the attempt budget decides. */
const maxRetryDelayMs = 10_000;

/** Called after every acknowledged append, with the events as written. */
export type AppendHook = (sessionId: string, events: readonly Event[]) => void;

export interface SessionLogOptions {
  readonly client: SessionClient;
  readonly fold: SessionFold;
  readonly onAppended?: AppendHook;
  /** Attempts per append on transient failures (rate-limit refusals included). Default 6. */
  readonly attempts?: number;
}

/**
 * The single writer of one session: appends are serialized, fenced with the
 * last seq this writer has seen, and applied to its fold once acknowledged.
 * Event ids are made once, before the first attempt, so a retry after a lost
 * ack is a no-op on the service, never a duplicate. The service's fence
 * (ABORTED with its ErrorInfo, see isAppendFenced) or NOT_FOUND means another
 * writer won: the append throws OwnershipLostError and the caller must stop touching
 * the session. Any other ABORTED is this side's transport (connect-node's code
 * for a connection reset under the call): the append may or may not have been
 * written, and is retried like UNAVAILABLE. A full log (see isLogFull) on the writer's own
 * events ends the session: `append` records it as terminated and throws
 * SessionLogFullError; `appendEvents` (events a client made) throws the refusal as it
 * came, for the client to see.
 */
export interface SessionLog {
  readonly fold: SessionFold;
  /** False once the service reported a log longer than the fold: someone else wrote too. */
  readonly current: boolean;
  append(...payloads: EventPayload[]): Promise<Event[]>;
  /** Appends events made by the caller (e.g. with a client's idempotency key as id). */
  appendEvents(events: Event[]): Promise<Event[]>;
}

const transient = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Unknown,
  Code.Internal,
  Code.ResourceExhausted,
]);

/**
 * Rethrows an append's failure, an ABORTED that is not the service's fence as
 * UNAVAILABLE: the connection broke under the call, which says nothing about
 * other writers, and the same batch is sent again.
 */
function unlessFenced(err: unknown): never {
  const failure = ConnectError.from(err);
  if (failure.code !== Code.Aborted || isAppendFenced(failure)) throw err;
  throw new ConnectError(
    `the connection broke under the append (${failure.rawMessage}); it may have been written`,
    Code.Unavailable,
    undefined,
    undefined,
    err,
  );
}

export function createSessionLog(options: SessionLogOptions): SessionLog {
  const { client, fold } = options;
  let queue: Promise<unknown> = Promise.resolve();
  let fenced: OwnershipLostError | undefined;
  // Once the log was found full (and the session recorded as terminated),
  // nothing more is written, not even a smaller event that would still fit.
  let full: SessionLogFullError | undefined;
  let current = true;

  const send = async (events: Event[], attempts: number): Promise<Event[]> => {
    const request = { sessionId: fold.sessionId, expectedLastSeq: fold.lastSeq, events };
    const response = await pRetry(() => client.appendEvents(request).catch(unlessFenced), {
      retries: attempts - 1,
      minTimeout: 50,
      maxTimeout: 2_000,
      shouldRetry: async ({ error }) => {
        const err = ConnectError.from(error);
        if (!transient.has(err.code) || isLogFull(err)) return false;
        // The service said when (its rate limit): wait that long, on top of the backoff.
        const delay = retryDelayOf(err);
        if (delay !== undefined) await sleep(Math.min(delay, maxRetryDelayMs));
        return true;
      },
    });
    for (const event of response.events) fold.apply(event);
    if (response.lastSeq > fold.lastSeq) current = false;
    options.onAppended?.(fold.sessionId, response.events);
    return response.events;
  };

  // Best effort: the service keeps room past the limit for status events, but
  // if even this is refused the log stays as it was and the error still ends the run.
  const recordFull = async (refusal: ConnectError) => {
    const why = `the session's log is full: ${refusal.rawMessage}`;
    const payloads = [sessionError(why, "log_full", false), sessionStatus(RunState.TERMINATED, StopReason.ERROR, why)];
    await send(
      payloads.map((payload) => create(EventSchema, { id: uuidv7(), payload })),
      2,
    ).catch(() => undefined);
    return why;
  };

  const write = async (events: Event[], own: boolean): Promise<Event[]> => {
    if (fenced) throw fenced;
    if (full) throw full;
    const expectedLastSeq = fold.lastSeq;
    try {
      return await send(events, options.attempts ?? 6);
    } catch (err) {
      const refusal = ConnectError.from(err);
      if (own && isLogFull(refusal)) {
        full = new SessionLogFullError(await recordFull(refusal), { cause: err });
        throw full;
      }
      if (isAppendFenced(refusal) || refusal.code === Code.NotFound) {
        fenced = new OwnershipLostError(
          `session ${fold.sessionId} was written by another writer after seq ${expectedLastSeq}: ${refusal.rawMessage}`,
          { cause: err },
        );
        throw fenced;
      }
      throw err;
    }
  };

  const enqueue = (events: Event[], own: boolean) => {
    const result = queue.then(() => write(events, own));
    queue = result.catch(() => undefined);
    return result;
  };
  return {
    fold,
    get current() {
      return current;
    },
    // Ids are fixed here, once: every retry of this batch resends the same ids.
    // Each event records the trace it is written in, so the log links to its traces.
    append: (...payloads) => {
      const traceId = currentTraceId();
      return enqueue(
        payloads.map((payload) => create(EventSchema, { id: uuidv7(), traceId, payload })),
        true,
      );
    },
    appendEvents: (events) => {
      const traceId = currentTraceId();
      return enqueue(traceId === "" ? events : events.map((e) => (e.traceId === "" ? { ...e, traceId } : e)), false);
    },
  };
}

/**
 * Reads a session into a fresh fold: from its latest checkpoint when it has
 * one (see loadFromCheckpoint), else the whole log, page by page.
 */
export async function loadSession(
  client: SessionClient,
  sessionId: string,
  signal?: AbortSignal,
): Promise<SessionFold> {
  const checkpointed = await loadFromCheckpoint(client, sessionId, signal);
  if (checkpointed) return checkpointed;
  const fold = createSessionFold(sessionId);
  let afterSeq = 0n;
  for (;;) {
    const page = await client.getEvents({ sessionId, afterSeq, limit: 1000 }, { signal });
    for (const event of page.events) fold.apply(event);
    if (page.events.length === 0 || page.nextAfterSeq >= page.lastSeq) return fold;
    afterSeq = page.nextAfterSeq;
  }
}
