/**
 * Bearer auth, both sides: the server interceptor that resolves a token to a role
 * and tenant, the grants it checks against, and the client interceptor that sends one.
 */
export type { MethodPolicy, TokenGrant } from "./auth.js";
export { createAuthInterceptor, createTokenVerifier, principalKey, tenantHeader, tenantScope } from "./auth.js";
export { createBearerInterceptor } from "./bearer-interceptor.js";
export { loadSecret, loadTokenGrants, minTokenLength } from "./token-grants.js";
