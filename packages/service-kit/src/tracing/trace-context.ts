import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

/**
 * W3C trace context in and out of what Reins carries it in: HTTP headers (a
 * call's `traceparent`/`tracestate`), message fields (an append on
 * AppendEventsStream), NATS headers (a wake). With tracing off the API's no-op
 * propagator reads and writes nothing.
 */
const headersGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};
const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** The context a call's `traceparent`/`tracestate` headers name (the root context without them). */
export function contextFromHeaders(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headersGetter);
}

/** Writes the active trace context into `headers` as `traceparent`/`tracestate`. */
export function injectTraceHeaders(headers: Headers, from: Context = context.active()): void {
  propagation.inject(from, headers, headersSetter);
}

/** The context a `traceparent` (and `tracestate`) carried in a message names. */
export function contextFromTraceparent(traceparent: string, tracestate = ""): Context {
  if (traceparent === "") return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate !== "") carrier.tracestate = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The active trace context as `traceparent`/`tracestate` values, empty without one. */
export function currentTraceparent(): { traceparent: string; tracestate: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { traceparent: carrier.traceparent ?? "", tracestate: carrier.tracestate ?? "" };
}

/** The active span's trace id (32 lowercase hex), or "" when no span is being recorded. */
export function currentTraceId(): string {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return "";
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? spanContext.traceId : "";
}

/** The active span's ids for a log line, or undefined when no span is being recorded. */
export function currentLogIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Runs `work` in a new active span of `tracerName`, ends it when `work` settles,
 * and marks it failed (error.type: the error's class or code, never its message,
 * which may quote input) when `work` throws.
 */
export async function inSpan<T>(
  tracerName: string,
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return trace.getTracer(tracerName).startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      markFailed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Records a failure on `span` by its type only: messages may quote input. */
export function markFailed(span: Span, err: unknown, type = errorTypeOf(err)): void {
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

function errorTypeOf(err: unknown): string {
  // A ConnectError by its code's name, as a peer would see it; an error that
  // classifies itself (a `kind`, e.g. a model failure's "rate_limit") by that;
  // others by their class.
  if (err instanceof ConnectError) return Code[err.code] ?? String(err.code);
  const kind = (err as { kind?: unknown } | undefined)?.kind;
  if (typeof kind === "string" && kind !== "") return kind;
  return err instanceof Error && err.name !== "Error" ? err.name : "_OTHER";
}
