/**
 * OpenTelemetry traces: configured from the standard OTEL_* variables
 * (startTracing), a server span per RPC and trace context sent on every client
 * call (rpc-spans.ts), and W3C trace context carried in messages and NATS
 * headers (trace-context.ts). Off unless configured, at the cost of the API's no-op tracer.
 */
export { createServerSpanInterceptor, createTraceContextInterceptor } from "./rpc-spans.js";
export { startTracing, type Tracing } from "./start-tracing.js";
export {
  contextFromHeaders,
  contextFromTraceparent,
  currentLogIds,
  currentTraceId,
  currentTraceparent,
  injectTraceHeaders,
  inSpan,
  markFailed,
} from "./trace-context.js";
export { type SamplerConfig, type TracingConfig, TracingConfigError, tracingConfigFromEnv } from "./tracing-config.js";
