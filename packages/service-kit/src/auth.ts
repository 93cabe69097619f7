import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";

/** A principal is who a valid bearer token says the caller is. */
export interface Principal {
  /** Role of the token, e.g. "client", "harness", "operator". */
  readonly role: string;
  /** Tenant the token belongs to ("" for single-tenant deployments). */
  readonly tenant: string;
}

export interface TokenGrant extends Principal {
  readonly token: string;
}

// Hashing first gives equal-length buffers, so timingSafeEqual never leaks the
// token length and every comparison costs the same.
const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Resolves a presented token to its principal, comparing against every grant in
 * constant time (no early exit on the first match).
 */
export function createTokenVerifier(grants: readonly TokenGrant[]): (token: string) => Principal | undefined {
  const hashed = grants.map((g) => ({ hash: digest(g.token), principal: { role: g.role, tenant: g.tenant } }));
  return (token) => {
    const presented = digest(token);
    let found: Principal | undefined;
    for (const grant of hashed) {
      if (timingSafeEqual(presented, grant.hash) && found === undefined) found = grant.principal;
    }
    return found;
  };
}

/** The authenticated caller; anonymous (role "", tenant "") when auth is off. */
export const principalKey = createContextKey<Principal>({ role: "", tenant: "" }, { description: "reins principal" });

/** Services a caller may reach without a token (health checks, reflection). */
const publicServices = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/**
 * An interceptor that demands `authorization: Bearer <token>` on every RPC of
 * the protected services and rejects other roles than `roles` with
 * PERMISSION_DENIED. Handlers read the caller from `ctx.values.get(principalKey)`.
 */
export function createAuthInterceptor(options: {
  verify: (token: string) => Principal | undefined;
  roles?: readonly string[];
}): Interceptor {
  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    const header = req.header.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) {
      throw new ConnectError(
        "missing bearer token: send the header 'authorization: Bearer <token>'",
        Code.Unauthenticated,
      );
    }
    const principal = options.verify(match[1].trim());
    if (!principal) throw new ConnectError("invalid bearer token", Code.Unauthenticated);
    if (options.roles && !options.roles.includes(principal.role)) {
      throw new ConnectError(`role "${principal.role}" may not call ${req.service.typeName}`, Code.PermissionDenied);
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
