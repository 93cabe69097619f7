/**
 * @reins/service-kit: what every Reins server and client shares.
 *
 * `startServer` serves gRPC, gRPC-Web and Connect on one HTTP/2 port with
 * grpc.health.v1 and server reflection; `createAuthInterceptor` and
 * `createBearerInterceptor` are the two sides of bearer auth (roles, tenants);
 * `createLogger` writes JSON lines with credentials censored; `loadConfigOrExit`,
 * `startOrExit` and `onShutdownSignal` are how a daemon starts, fails and stops;
 * `validate.ts` holds the id rules every service checks; `startTracing` and the
 * trace-context helpers are OpenTelemetry tracing (tracing/); `metrics/` is each
 * daemon's Prometheus registry and admin listener. See README.md.
 */
export type { AsyncQueue } from "./async-queue.js";
export { createAsyncQueue } from "./async-queue.js";
export type { MethodPolicy, Principal, TokenGrant } from "./auth/index.js";
export {
  createAuthInterceptor,
  createBearerInterceptor,
  createTokenVerifier,
  executorRole,
  loadRegistrationTokens,
  loadSecret,
  loadTokenGrants,
  minTokenLength,
  principalKey,
  tenantHeader,
  tenantScope,
} from "./auth/index.js";
export { appendFenced, errorInfoDetail, errorInfoOf, isAppendFenced } from "./error-info.js";
export { createGrpcClientTransport } from "./grpc-client-transport.js";
export type { Logger } from "./logger.js";
export { announceListening, createLogger, parseListenAddress } from "./logger.js";
export type { LabelCapOptions, MetricsListener } from "./metrics/index.js";
export {
  codeName,
  createLabelCap,
  createMetricsRegistry,
  otherLabel,
  parseMetricsListen,
  startMetricsListener,
} from "./metrics/index.js";
export { redactUrl, redactUrls } from "./redact-url.js";
export type { ReinsServer, TlsOptions } from "./server/index.js";
export { bindService, createHealth, loadCorsOrigins, ServingStatus, startServer } from "./server/index.js";
export { onShutdownSignal } from "./signals.js";
export { loadConfigOrExit, startOrExit } from "./startup.js";
export type { ClientTlsOptions } from "./tls-config.js";
export { loadClientTls, loadServerTls } from "./tls-config.js";
export type { Tracing, TracingConfig } from "./tracing/index.js";
export {
  contextFromHeaders,
  contextFromTraceparent,
  createServerSpanInterceptor,
  createTraceContextInterceptor,
  currentTraceId,
  currentTraceparent,
  inSpan,
  markFailed,
  startTracing,
  TracingConfigError,
  tracingConfigFromEnv,
} from "./tracing/index.js";
export {
  eventIdPattern,
  eventIdProblem,
  executorIdPattern,
  quoteForMessage,
  validateSessionId,
} from "./validate.js";
