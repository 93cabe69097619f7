import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { contextFromHeaders, injectTraceHeaders } from "./trace-context.js";

const tracerName = "@reins/service-kit";
const healthService = "grpc.health.v1.Health";

// Server-side codes that mean the server failed, as the RPC semantic conventions list them;
// the others (a bad argument, a missing session) are the caller's and leave the span unset.
const serverFaults = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * A server span per call, named `<package.Service>/<Method>` and a child of the
 * caller's `traceparent`, with the handler running in it (on every path that
 * runs interceptors: connect-node's adapter and the unary fast path). Bidi
 * streams get none: the one Reins serves (AppendEventsStream) is a long-lived
 * channel whose messages carry their own trace context, and each gets its span
 * where it is served; nor do health checks. Attributes are the method's names and the status code;
 * no header, message or error text is recorded.
 */
export function createServerSpanInterceptor(): Interceptor {
  return (next) => async (req) => {
    // Health checks come from probes every few seconds, each its own trace of nothing.
    if (req.method.methodKind === "bidi_streaming" || req.service.typeName === healthService) return next(req);
    const parent = contextFromHeaders(req.header);
    const span = trace.getTracer(tracerName).startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": (req.header.get("content-type") ?? "").startsWith("application/grpc") ? "grpc" : "connect_rpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(active, () => next(req));
    } catch (err) {
      endRpcSpan(span, err);
      throw err;
    }
    if (!res.stream) {
      endRpcSpan(span, undefined);
      return res;
    }
    return { ...res, message: inContext(res.message, active, span, req.signal) };
  };
}

/** The client side: sends the active trace context as `traceparent`/`tracestate` on every call. */
export function createTraceContextInterceptor(): Interceptor {
  return (next) => (req) => {
    injectTraceHeaders(req.header);
    return next(req);
  };
}

// A streaming handler runs as its messages are pulled: each pull runs in the call's span.
async function* inContext<T>(
  messages: AsyncIterable<T>,
  active: Context,
  span: Span,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  let outcome: { err: unknown } | undefined;
  try {
    for (;;) {
      const next = await context.with(active, () => iterator.next());
      if (next.done) break;
      yield next.value;
    }
    outcome = { err: undefined };
  } catch (err) {
    outcome = { err };
    throw err;
  } finally {
    // Left early: the client went away (or the server is closing it).
    if (outcome === undefined) {
      outcome = { err: new ConnectError("the stream was left before its end", Code.Canceled) };
      await iterator.return?.();
    }
    // A handler that ends quietly once its client has gone was still cancelled.
    if (outcome.err === undefined && signal.aborted) outcome = { err: new ConnectError("client left", Code.Canceled) };
    endRpcSpan(span, outcome.err);
  }
}

function endRpcSpan(span: Span, err: unknown): void {
  const code = err === undefined ? 0 : ConnectError.from(err).code;
  span.setAttribute("rpc.grpc.status_code", code);
  if (code !== 0 && serverFaults.has(code)) {
    span.setAttribute("error.type", Code[code] ?? String(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message: Code[code] });
  }
  span.end();
}
