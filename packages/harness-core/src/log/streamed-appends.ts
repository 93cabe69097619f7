import { create } from "@bufbuild/protobuf";
import { type CallOptions, Code, ConnectError } from "@connectrpc/connect";
import {
  type AppendError,
  type AppendEventsResponse,
  type AppendEventsStreamRequest,
  AppendEventsStreamRequestSchema,
  type AppendEventsStreamResponse,
} from "@reins/proto";
import { type AsyncQueue, createAsyncQueue, currentTraceparent, tenantHeader } from "@reins/service-kit";
import type { SessionClient } from "./session-log.js";

export interface StreamedAppendsOptions {
  /** A stream with no append in flight for this long is closed, and opened again by the next append. Default 10 s. */
  readonly idleCloseMs?: number;
}

/** A session client whose appends share one stream; `close()` ends the stream once its appends are answered. */
export type StreamedSessionClient = SessionClient & { close(): Promise<void> };

type AppendRequest = Parameters<SessionClient["appendEvents"]>[0];

interface Waiter {
  readonly request: AppendRequest;
  readonly options: CallOptions | undefined;
  resolve(response: AppendEventsResponse): void;
  reject(err: unknown): void;
}

interface Channel {
  readonly requests: AsyncQueue<AppendEventsStreamRequest>;
  readonly waiting: Map<bigint, Waiter>;
  /** Takes no new appends: it is being closed. */
  ending: boolean;
  idleTimer?: NodeJS.Timeout;
  finished?: Promise<void>;
}

/**
 * `client` with its `appendEvents` sent over one AppendEventsStream instead of
 * a unary call each. An append is the writer's whole critical path between the
 * model's answer and the tool calls (write-ahead); a new HTTP/2 stream per
 * append costs both processes more CPU than the append itself, a message on an
 * open stream a fraction of it. Each append keeps a unary call's meaning: same
 * answer, same errors (with their details), `timeoutMs` and `signal` honoured
 * (the append may still be written, as when a unary call's answer is lost), and
 * the `reins-tenant` header carried as the append's tenant; other per-call
 * headers are not sent. If the stream breaks, the appends it was carrying fail
 * with its error (UNAVAILABLE when the service went away) for the caller to
 * retry with the same event ids, and the next append opens a new stream. A
 * service that does not know the RPC (UNIMPLEMENTED) gets unary calls from then on.
 */
export function withStreamedAppends(
  client: SessionClient,
  options: StreamedAppendsOptions = {},
): StreamedSessionClient {
  const idleCloseMs = options.idleCloseMs ?? 10_000;
  let channel: Channel | undefined;
  let unary = false;
  let closed = false;
  let lastCallId = 0n;

  const endChannel = (ch: Channel) => {
    ch.ending = true;
    clearTimeout(ch.idleTimer);
    if (channel === ch) channel = undefined;
    ch.requests.end();
  };
  const armIdleClose = (ch: Channel) => {
    clearTimeout(ch.idleTimer);
    if (ch.waiting.size > 0 || ch.ending) return;
    ch.idleTimer = setTimeout(() => {
      if (ch.waiting.size === 0) endChannel(ch);
    }, idleCloseMs);
    ch.idleTimer.unref();
  };

  const open = (): Channel => {
    const ch: Channel = { requests: createAsyncQueue(), waiting: new Map(), ending: false };
    ch.finished = (async () => {
      let failure: ConnectError;
      try {
        for await (const answer of client.appendEventsStream(ch.requests)) {
          const waiter = ch.waiting.get(answer.callId);
          // Cancelled by its caller meanwhile.
          if (waiter === undefined) continue;
          ch.waiting.delete(answer.callId);
          settle(waiter, answer);
          armIdleClose(ch);
        }
        failure = new ConnectError("the session service ended the append stream without answering", Code.Unavailable);
      } catch (err) {
        failure = ConnectError.from(err);
        // This side never cancels the stream: a reset (CANCELED), a stream cut short
        // (UNKNOWN, "premature close") or broken (INTERNAL), or a connection reset
        // (ABORTED in connect-node, the code of a fence; but the service answers a
        // fence per append, in its AppendError, never by failing the stream) is the
        // connection or the service going away, and the appends it carried may or
        // may not be written.
        if (cutShort.has(failure.code)) {
          failure = new ConnectError(
            `the append stream was cut: ${failure.rawMessage}`,
            Code.Unavailable,
            undefined,
            undefined,
            err,
          );
        }
      }
      endChannel(ch);
      const left = [...ch.waiting.values()];
      ch.waiting.clear();
      if (failure.code === Code.Unimplemented) {
        // A session service older than the stream: nothing was appended on it.
        unary = true;
        for (const waiter of left)
          client.appendEvents(waiter.request, waiter.options).then(waiter.resolve, waiter.reject);
        return;
      }
      for (const waiter of left) waiter.reject(failure);
    })();
    return ch;
  };

  const appendEvents = (request: AppendRequest, callOptions?: CallOptions): Promise<AppendEventsResponse> => {
    if (unary || closed) return client.appendEvents(request, callOptions);
    if (channel === undefined) channel = open();
    const ch = channel;
    clearTimeout(ch.idleTimer);
    lastCallId += 1n;
    const callId = lastCallId;
    return new Promise<AppendEventsResponse>((resolve, reject) => {
      const { signal, timeoutMs } = callOptions ?? {};
      const giveUp = (err: ConnectError) => {
        if (!ch.waiting.delete(callId)) return;
        done();
        reject(err);
        armIdleClose(ch);
      };
      const onAbort = () =>
        giveUp(new ConnectError("the append was cancelled; it may still be written", Code.Canceled));
      const timer =
        timeoutMs !== undefined && timeoutMs > 0
          ? setTimeout(
              () =>
                giveUp(
                  new ConnectError(
                    `no answer within ${timeoutMs} ms; the append may still be written`,
                    Code.DeadlineExceeded,
                  ),
                ),
              timeoutMs,
            )
          : undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      ch.waiting.set(callId, {
        request,
        options: callOptions,
        resolve: (response) => {
          done();
          resolve(response);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      const tenant = callOptions?.headers ? (new Headers(callOptions.headers).get(tenantHeader) ?? "") : "";
      // The stream is shared by many runs: each append carries its own trace context.
      ch.requests.push(
        create(AppendEventsStreamRequestSchema, { callId, append: request, tenant, ...currentTraceparent() }),
      );
    });
  };

  return {
    ...client,
    appendEvents,
    async close() {
      closed = true;
      const ch = channel;
      if (ch === undefined) return;
      endChannel(ch);
      await ch.finished;
    },
  };
}

const cutShort = new Set([Code.Canceled, Code.Unknown, Code.Internal, Code.Aborted]);

function settle(waiter: Waiter, answer: AppendEventsStreamResponse): void {
  const { result } = answer;
  if (result.case === "appended") waiter.resolve(result.value);
  else if (result.case === "error") waiter.reject(fromAppendError(result.value));
  else waiter.reject(new ConnectError(`the answer to append ${answer.callId} carries no result`, Code.Internal));
}

/** The ConnectError a unary AppendEvents would have thrown. */
export function fromAppendError(error: AppendError): ConnectError {
  const code = error.code >= Code.Canceled && error.code <= Code.Unauthenticated ? (error.code as Code) : Code.Unknown;
  const err = new ConnectError(error.message, code);
  for (const detail of error.details) {
    err.details.push({ type: detail.typeUrl.slice(detail.typeUrl.lastIndexOf("/") + 1), value: detail.value });
  }
  return err;
}
