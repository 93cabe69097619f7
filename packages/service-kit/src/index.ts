/**
 * @reins/service-kit: what every Reins server and client shares.
 *
 * `startServer` serves gRPC, gRPC-Web and Connect on one HTTP/2 port with
 * grpc.health.v1 and server reflection; `createAuthInterceptor` and
 * `createBearerInterceptor` are the two sides of bearer auth (roles, tenants);
 * `createLogger` writes JSON lines with credentials censored; `loadConfigOrExit`,
 * `startOrExit` and `onShutdownSignal` are how a daemon starts, fails and stops;
 * `validate.ts` holds the id rules every service checks. See README.md.
 */
export type { AsyncQueue } from "./async-queue.js";
export { createAsyncQueue } from "./async-queue.js";
export type { MethodPolicy, Principal, TokenGrant } from "./auth.js";
export { createAuthInterceptor, createTokenVerifier, principalKey, tenantHeader, tenantScope } from "./auth.js";
export { createBearerInterceptor } from "./bearer-interceptor.js";
export type { ErrorInfo } from "./error-info.js";
export { appendFenced, errorInfoDetail, errorInfoOf, isAppendFenced } from "./error-info.js";
export { createGrpcClientTransport } from "./grpc-client-transport.js";
export type { Health } from "./health.js";
export { createHealth, ServingStatus } from "./health.js";
export type { Logger } from "./logger.js";
export { announceListening, createLogger, parseListenAddress } from "./logger.js";
export { redactUrl, redactUrls } from "./redact-url.js";
export { registerReflection } from "./reflection.js";
export type { ReinsServer, ServerOptions, ServiceBinding } from "./server.js";
export { bindService, startServer } from "./server.js";
export { onShutdownSignal } from "./signals.js";
export { loadConfigOrExit, startOrExit, startupExitCodes } from "./startup.js";
export type { ClientTlsOptions } from "./tls-config.js";
export { loadClientTls, loadServerTls } from "./tls-config.js";
export type { TlsOptions } from "./tls-listener.js";
export type { Role } from "./token-grants.js";
export { loadSecret, loadTokenGrants, minTokenLength, parseTokenGrants, roles } from "./token-grants.js";
export { eventIdPattern, eventIdProblem, quoteForMessage, sessionIdPattern, validateSessionId } from "./validate.js";
