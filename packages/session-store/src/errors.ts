import { Code, ConnectError } from "@connectrpc/connect";
import { appendFenced, errorInfoDetail } from "@reins/service-kit";
import { ErrorCode, NatsError } from "nats";
import { quotaFailureDetail, retryInfoDetail } from "./error-details.js";

// Domain errors of the store, which say what happened in session terms, and
// `toConnectError`, the one mapping of them and of NATS errors to gRPC codes.

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

/** No live registry entry for this executor id (never registered, deregistered, or past its TTL). */
export class ExecutorNotFoundError extends Error {
  override readonly name = "ExecutorNotFoundError";
  constructor(readonly executorId: string) {
    super(`executor "${executorId}" is not registered (or its heartbeats stopped for the TTL)`);
  }
}

/** A new executor would take the registry over its bound on live entries. */
export class RegistryFullError extends Error {
  override readonly name = "RegistryFullError";
  constructor(
    readonly executorId: string,
    readonly maxExecutors: number,
  ) {
    super(
      `executor "${executorId}" cannot register: the registry already holds its maximum of ${maxExecutors} live executors`,
    );
  }
}

/** JetStream API error codes (`err_code`) the store reacts to. */
export const JsErrCode = {
  /** `Nats-Expected-Last-Subject-Sequence` did not match: the fence. */
  wrongLastSequence: 10071,
  /** The message is larger than the stream's max_msg_size. */
  messageTooLarge: 10054,
  streamNotFound: 10059,
  insufficientResources: 10023,
  storageExceeded: 10047,
  maximumConsumers: 10026,
  noMessageFound: 10037,
} as const;

/** The JetStream API error code of `err`, if it is one. */
export function jsErrorCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/** True when the error means "NATS did not answer": retrying later may succeed. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!(err instanceof NatsError)) return false;
  switch (err.code) {
    case ErrorCode.Timeout:
    case ErrorCode.NoResponders:
    case ErrorCode.ConnectionClosed:
    case ErrorCode.ConnectionDraining:
    case ErrorCode.ConnectionRefused:
    case ErrorCode.ConnectionTimeout:
    case ErrorCode.Disconnect:
    case ErrorCode.JetStream408RequestTimeout:
      return true;
    default:
      return false;
  }
}

/**
 * The single place where anything the store throws becomes a gRPC status. Domain
 * errors carry their own message; NATS errors are classified by what a caller can
 * do about them (retry later, fix the request, or report a bug).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof SessionNotFoundError)
    return new ConnectError(err.message, Code.NotFound, undefined, undefined, err);
  if (err instanceof ExecutorNotFoundError) {
    return new ConnectError(err.message, Code.NotFound, undefined, undefined, err);
  }
  if (err instanceof RegistryFullError) {
    const error = new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
    error.details.push(quotaFailureDetail("executors/live", err.message));
    return error;
  }
  if (err instanceof SessionExistsError) {
    return new ConnectError(err.message, Code.AlreadyExists, undefined, undefined, err);
  }
  // The ErrorInfo is what tells a client that the service fenced the append: a
  // client's own transport also says ABORTED, for a connection reset under the call.
  if (err instanceof FencedError) {
    const error = new ConnectError(err.message, Code.Aborted, undefined, undefined, err);
    error.details.push(
      errorInfoDetail({
        ...appendFenced,
        metadata: {
          session_id: err.sessionId,
          expected_last_seq: String(err.expectedLastSeq),
          last_seq: String(err.lastSeq),
        },
      }),
    );
    return error;
  }
  if (err instanceof InvalidRequestError) {
    return new ConnectError(err.message, Code.InvalidArgument, undefined, undefined, err);
  }
  // Both limits are quotas, which is what RESOURCE_EXHAUSTED means in gRPC
  // ("perhaps a per-user quota"); FAILED_PRECONDITION would say the request
  // could pass once some state is fixed, and nothing makes a full log smaller.
  // Both carry a google.rpc.QuotaFailure naming the limit; a rate refusal also
  // carries a google.rpc.RetryInfo (retry after the delay), a full log none (do
  // not retry).
  if (err instanceof LogFullError) {
    const error = new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
    error.details.push(quotaFailureDetail(`session/${err.sessionId}/log_bytes`, err.message));
    return error;
  }
  if (err instanceof RateLimitedError) {
    const error = new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
    error.details.push(
      quotaFailureDetail(`session/${err.sessionId}/events_per_second`, err.message),
      retryInfoDetail(err.retryAfterMs),
    );
    return error;
  }
  // The stream's buffer is what ran out; a retry (from after_seq) that reads on succeeds.
  if (err instanceof StreamLagError) {
    const error = new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
    error.details.push(quotaFailureDetail(`session/${err.sessionId}/stream_lag_bytes`, err.message));
    return error;
  }
  if (isUnavailable(err)) {
    const detail = err instanceof StoreUnavailableError ? err.message : `NATS: ${(err as Error).message}`;
    return new ConnectError(`session store unavailable: ${detail}`, Code.Unavailable, undefined, undefined, err);
  }
  if (err instanceof NatsError) {
    switch (jsErrorCode(err)) {
      case JsErrCode.messageTooLarge:
        return new ConnectError(`batch too large for the stream: ${err.message}`, Code.InvalidArgument);
      case JsErrCode.insufficientResources:
      case JsErrCode.storageExceeded:
      case JsErrCode.maximumConsumers:
        return new ConnectError(`NATS is out of resources: ${err.message}`, Code.ResourceExhausted);
      case JsErrCode.streamNotFound:
        return new ConnectError(
          `the events stream is missing on NATS (${err.message}); it is recreated on reconnect`,
          Code.Unavailable,
        );
    }
    if (err.code === ErrorCode.MaxPayloadExceeded) {
      return new ConnectError(`batch exceeds the NATS server's max_payload: ${err.message}`, Code.InvalidArgument);
    }
    return new ConnectError(`NATS error: ${err.message}`, Code.Internal, undefined, undefined, err);
  }
  return ConnectError.from(err, Code.Internal);
}
