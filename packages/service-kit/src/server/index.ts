/**
 * The server: one port for gRPC, gRPC-Web and Connect (cleartext or TLS), the
 * unary fast path, grpc.health.v1, reflection, and status messages that always
 * fit the trailers.
 */
export { loadCorsOrigins } from "./cors-origins.js";
export { createHealth, ServingStatus } from "./health.js";
export type { ReinsServer } from "./server.js";
export { bindService, startServer } from "./server.js";
export type { TlsOptions } from "./tls-listener.js";
