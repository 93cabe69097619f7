import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventSchema, type SessionService } from "@reins/proto";
import pRetry from "p-retry";
import { uuidv7 } from "uuidv7";
import { createSessionFold, type SessionFold } from "./fold.js";

export type SessionClient = Client<typeof SessionService>;
export type EventPayload = Event["payload"];

/** Another writer moved the log on (or deleted the session): this one is a zombie. */
export class FencedError extends Error {
  override readonly name = "FencedError";
}

/** Called after every acknowledged append, with the events as written. */
export type AppendHook = (sessionId: string, events: readonly Event[]) => void;

export interface SessionLogOptions {
  readonly client: SessionClient;
  readonly fold: SessionFold;
  readonly onAppended?: AppendHook;
  /** Attempts per append on transient failures. Default 6. */
  readonly attempts?: number;
}

/**
 * The single writer of one session: appends are serialized, fenced with the
 * last seq this writer has seen, and applied to its fold once acknowledged.
 * Event ids are made once, before the first attempt, so a retry after a lost
 * ack is a no-op on the service, never a duplicate. ABORTED (or NOT_FOUND)
 * means another writer won: the append throws FencedError and the caller must
 * stop touching the session.
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

export function createSessionLog(options: SessionLogOptions): SessionLog {
  const { client, fold } = options;
  let queue: Promise<unknown> = Promise.resolve();
  let fenced: FencedError | undefined;
  let current = true;

  const write = async (events: Event[]): Promise<Event[]> => {
    if (fenced) throw fenced;
    const request = { sessionId: fold.sessionId, expectedLastSeq: fold.lastSeq, events };
    try {
      const response = await pRetry(() => client.appendEvents(request), {
        retries: (options.attempts ?? 6) - 1,
        minTimeout: 50,
        maxTimeout: 2_000,
        shouldRetry: ({ error }) => transient.has(ConnectError.from(error).code),
      });
      for (const event of response.events) fold.apply(event);
      if (response.lastSeq > fold.lastSeq) current = false;
      options.onAppended?.(fold.sessionId, response.events);
      return response.events;
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code === Code.Aborted || code === Code.NotFound) {
        fenced = new FencedError(
          `session ${fold.sessionId} was written by another writer after seq ${request.expectedLastSeq}: ${ConnectError.from(err).rawMessage}`,
          { cause: err },
        );
        throw fenced;
      }
      throw err;
    }
  };

  const enqueue = (events: Event[]) => {
    const result = queue.then(() => write(events));
    queue = result.catch(() => undefined);
    return result;
  };
  return {
    fold,
    get current() {
      return current;
    },
    // Ids are fixed here, once: every retry of this batch resends the same ids.
    append: (...payloads) => enqueue(payloads.map((payload) => create(EventSchema, { id: uuidv7(), payload }))),
    appendEvents: enqueue,
  };
}

/** Reads a whole session log, page by page, into a fresh fold. */
export async function loadSession(
  client: SessionClient,
  sessionId: string,
  signal?: AbortSignal,
): Promise<SessionFold> {
  const fold = createSessionFold(sessionId);
  let afterSeq = 0n;
  for (;;) {
    const page = await client.getEvents({ sessionId, afterSeq, limit: 1000 }, { signal });
    for (const event of page.events) fold.apply(event);
    if (page.events.length === 0 || page.nextAfterSeq >= page.lastSeq) return fold;
    afterSeq = page.nextAfterSeq;
  }
}
