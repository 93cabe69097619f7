import { create } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type AppendError,
  AppendErrorSchema,
  type AppendEventsRequest,
  type AppendEventsResponse,
  type AppendEventsStreamRequest,
  type AppendEventsStreamResponse,
  AppendEventsStreamResponseSchema,
} from "@reins/proto";
import { createAsyncQueue } from "@reins/service-kit";
import { toConnectError } from "../errors.js";

/** Appends one stream may have started and not yet answered; past it, the stream is not read (HTTP/2 flow control pushes back). */
export const maxAppendsInFlightPerStream = 64;

export interface AppendStreamOptions {
  /** Default maxAppendsInFlightPerStream. */
  readonly maxInFlight?: number;
  /**
   * Lets the service end the stream from outside (on shutdown); returns how to
   * unregister. The stream unregisters once it has finished.
   */
  readonly register?: (end: (reason: Error) => void) => () => void;
}

/**
 * One append as AppendEvents runs it, confined to `tenant` when given, in the
 * trace context the request carries (`traceparent`, `tracestate`; empty: the
 * stream's). It must start the append synchronously (the store takes the
 * session's lock in call order): that is what keeps one session's appends in the order sent.
 */
export type RunAppend = (
  append: AppendEventsRequest,
  tenant: string,
  trace: Pick<AppendEventsStreamRequest, "traceparent" | "tracestate">,
) => Promise<AppendEventsResponse>;

/**
 * Serves an AppendEventsStream: each request is started as it arrives, without
 * waiting for the ones before it (appends to different sessions proceed in
 * parallel, those of one session queue on its lock in arrival order), and
 * answered by its call_id as soon as it settles. A failed append is answered
 * with its error and the stream goes on. The answers end once the client has
 * half-closed and every append it sent is answered.
 */
export async function* serveAppendStream(
  requests: AsyncIterable<AppendEventsStreamRequest>,
  run: RunAppend,
  options: AppendStreamOptions = {},
): AsyncGenerator<AppendEventsStreamResponse> {
  const maxInFlight = options.maxInFlight ?? maxAppendsInFlightPerStream;
  const answers = createAsyncQueue<AppendEventsStreamResponse>();
  // Set by the service when it shuts down: no more requests are read, the
  // started ones are answered, then the stream fails with this reason (the
  // client retries what it sent after them elsewhere).
  let ended: { reason: Error } | undefined;
  // Ends the reader's current wait early, when the stream is ended from outside.
  // (A wait per read rather than one race against a shared promise: every race
  // would leave a reaction on it for as long as the stream lives.)
  let wake: (() => void) | undefined;
  const unanswered = new Set<bigint>();
  let reading = true;
  let slotFreed: (() => void) | undefined;
  const endIfDone = () => {
    if (reading || unanswered.size > 0) return;
    if (ended) answers.fail(toConnectError(ended.reason));
    else answers.end();
  };
  const answer = (callId: bigint, result: AppendEventsStreamResponse["result"]) => {
    unanswered.delete(callId);
    answers.push(create(AppendEventsStreamResponseSchema, { callId, result }));
    slotFreed?.();
    slotFreed = undefined;
    endIfDone();
  };
  const start = (request: AppendEventsStreamRequest) => {
    const { callId, append } = request;
    if (unanswered.has(callId)) {
      throw new ConnectError(
        `call_id ${callId} is already in use by an unanswered append on this stream: each append needs its own call_id`,
        Code.InvalidArgument,
      );
    }
    unanswered.add(callId);
    if (append === undefined) {
      answer(callId, {
        case: "error",
        value: toAppendError(new ConnectError("append: missing", Code.InvalidArgument)),
      });
      return;
    }
    let pending: Promise<AppendEventsResponse>;
    try {
      pending = run(append, request.tenant, request);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => answer(callId, { case: "appended", value }),
      (err: unknown) => answer(callId, { case: "error", value: toAppendError(toConnectError(err)) }),
    );
  };
  // Not awaited: when the client leaves, the answers stop being read, while the
  // reader ends with the request stream and appends already started still finish.
  const unregister = options.register?.((reason) => {
    ended ??= { reason };
    wake?.();
  });
  void (async () => {
    const iterator = requests[Symbol.asyncIterator]();
    try {
      for (;;) {
        while (unanswered.size >= maxInFlight && !ended) {
          await new Promise<void>((resolve) => {
            slotFreed = resolve;
            wake = resolve;
          });
        }
        const next = ended
          ? undefined
          : await new Promise<IteratorResult<AppendEventsStreamRequest> | undefined>((resolve, reject) => {
              wake = () => resolve(undefined);
              iterator.next().then(resolve, reject);
            });
        wake = undefined;
        if (next === undefined) {
          void iterator.return?.()?.catch(() => undefined);
          break;
        }
        if (next.done) break;
        start(next.value);
      }
      reading = false;
      endIfDone();
    } catch (err) {
      // The client went away, or broke the protocol: the stream ends; appends
      // already started still finish in the store, unanswered.
      reading = false;
      answers.fail(err);
    }
  })();
  try {
    yield* answers;
  } finally {
    unregister?.();
  }
}

/** A failed append's status, as AppendEvents would have put it in its trailers. */
export function toAppendError(error: ConnectError): AppendError {
  return create(AppendErrorSchema, {
    code: error.code,
    message: error.rawMessage,
    details: error.details.map((detail) =>
      "desc" in detail
        ? anyPack(detail.desc, create(detail.desc, detail.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value }),
    ),
  });
}
