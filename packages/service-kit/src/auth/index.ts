/**
 * Bearer auth, both sides: the server interceptor that resolves a token to a role
 * and tenant, the grants it checks against, and the client interceptor that sends one.
 */
export type { MethodPolicy, Principal, TokenGrant } from "./auth.js";
export { createAuthInterceptor, createTokenVerifier, principalKey, tenantHeader, tenantScope } from "./auth.js";
export { createBearerInterceptor } from "./bearer-interceptor.js";
export { executorRole, loadRegistrationTokens, parseRegistrationTokens } from "./registration-tokens.js";
export { loadSecret, loadTokenGrants, minTokenLength } from "./token-grants.js";
