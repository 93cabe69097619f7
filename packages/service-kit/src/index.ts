export type { Principal, TokenGrant } from "./auth.js";
export { createAuthInterceptor, createTokenVerifier, principalKey } from "./auth.js";
export type { Health } from "./health.js";
export { createHealth, ServingStatus } from "./health.js";
export { registerReflection } from "./reflection.js";
export type { ReinsServer, ServerOptions, ServiceBinding } from "./server.js";
export { bindService, startServer } from "./server.js";
export { onShutdownSignal } from "./signals.js";
export { sessionIdPattern, validateSessionId } from "./validate.js";
