// Domain errors of the store. They say what happened in session terms; the one
// mapping to gRPC codes is `toConnectError` in nats-error.ts.

/** The session has no log (never created, or deleted). */
export class SessionNotFoundError extends Error {
  override readonly name = "SessionNotFoundError";
  constructor(readonly sessionId: string) {
    super(`session "${sessionId}" not found`);
  }
}

/** CreateSession on an id that already exists with another `session.created` event. */
export class SessionExistsError extends Error {
  override readonly name = "SessionExistsError";
  constructor(
    readonly sessionId: string,
    readonly createdEventId: string,
  ) {
    super(`session "${sessionId}" already exists (created by event "${createdEventId}")`);
  }
}

/**
 * The fence: the log's last seq is not what the writer expected, and none of the
 * batch is in the log. Another writer owns the session now.
 */
export class FencedError extends Error {
  override readonly name = "FencedError";
  constructor(
    readonly sessionId: string,
    readonly expectedLastSeq: bigint | number,
    readonly lastSeq: number,
  ) {
    super(
      `session "${sessionId}": expected_last_seq is ${expectedLastSeq} but the log's last seq is ${lastSeq}; nothing was written (another writer appended first)`,
    );
  }
}

/** A request that can never succeed as sent; the message says what is wrong. */
export class InvalidRequestError extends Error {
  override readonly name = "InvalidRequestError";
}

/** NATS cannot be reached (or does not answer in time). Retrying later may work. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An append would take the session's log over its size limit. Nothing was
 * written, and a retry never will be: logs do not shrink.
 */
export class LogFullError extends Error {
  override readonly name = "LogFullError";
  constructor(
    readonly sessionId: string,
    readonly limitBytes: number,
    readonly logBytes: number,
    readonly batchBytes: number,
  ) {
    super(
      `session "${sessionId}": the log holds ${logBytes} bytes and this append adds ${batchBytes}, over the limit of ${limitBytes} bytes per session; nothing was written (continue in a new session)`,
    );
  }
}

/** The session appends faster than its events-per-second limit. Nothing was written; retry after `retryAfterMs`. */
export class RateLimitedError extends Error {
  override readonly name = "RateLimitedError";
  constructor(
    readonly sessionId: string,
    readonly eventsPerSecond: number,
    readonly burst: number,
    readonly retryAfterMs: number,
  ) {
    super(
      `session "${sessionId}": over the limit of ${eventsPerSecond} events per second (burst ${burst}); nothing was written, retry in ${retryAfterMs} ms`,
    );
  }
}

/**
 * A StreamEvents reader fell so far behind the live log that the events waiting
 * for it would exceed the stream's buffer. Only that stream ends; the reader may
 * resume from `resumeAfterSeq`, the last event it was sent.
 */
export class StreamLagError extends Error {
  override readonly name = "StreamLagError";
  constructor(
    readonly sessionId: string,
    readonly limitBytes: number,
    readonly resumeAfterSeq: number,
  ) {
    super(
      `StreamEvents on session "${sessionId}" fell too far behind the log: more than ${limitBytes} bytes of events were waiting to be sent to this reader; read faster, or stream again with after_seq ${resumeAfterSeq}`,
    );
  }
}
