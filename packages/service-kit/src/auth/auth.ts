import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";

/** A principal is who a valid bearer token says the caller is. */
export interface Principal {
  /** Role of the token, e.g. "client", "harness", "operator". */
  readonly role: string;
  /** Tenant the token belongs to ("" for single-tenant deployments). */
  readonly tenant: string;
  /**
   * For role "executor" (a registration token): the one executor id the token
   * may register, heartbeat and deregister.
   */
  readonly executorId?: string;
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
  const hashed = grants.map((g) => ({
    hash: digest(g.token),
    principal: {
      role: g.role,
      tenant: g.tenant,
      ...(g.executorId !== undefined ? { executorId: g.executorId } : {}),
    },
  }));
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
 * Which roles may call which methods of a service, by method name (e.g.
 * "AppendEvents"). A method missing from the table is refused to every role:
 * an RPC added later is closed until someone decides who may call it.
 */
export type MethodPolicy = Readonly<Record<string, readonly string[]>>;

/**
 * An interceptor that demands `authorization: Bearer <token>` on every RPC of
 * the protected services and refuses, with PERMISSION_DENIED, roles that
 * `roles` (every method) or `methods` (per method) does not list. Handlers read
 * the caller from `ctx.values.get(principalKey)`.
 */
export function createAuthInterceptor(options: {
  verify: (token: string) => Principal | undefined;
  roles?: readonly string[];
  methods?: MethodPolicy;
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
    const allowed = options.methods ? (options.methods[req.method.name] ?? []) : options.roles;
    if ((options.roles && !options.roles.includes(principal.role)) || (allowed && !allowed.includes(principal.role))) {
      throw new ConnectError(
        `role "${principal.role}" may not call ${req.service.typeName}/${req.method.name}`,
        Code.PermissionDenied,
      );
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

/**
 * Request header by which a caller that spans tenants (the harness, acting for
 * one client) narrows a call to one tenant; the service then treats the call as
 * that tenant's.
 */
export const tenantHeader = "reins-tenant";

/**
 * The one tenant a call may touch, or undefined when it may touch every tenant.
 * A client is always scoped to its token's tenant (naming another in the header
 * is PERMISSION_DENIED); the harness, operators and, with authentication off,
 * anonymous callers span tenants unless they narrow with `tenantHeader`.
 */
export function tenantScope(principal: Principal, headers: Headers): string | undefined {
  const named = headers.get(tenantHeader);
  if (principal.role === "client") {
    if (named !== null && named !== principal.tenant) {
      throw new ConnectError("a client token may not act for another tenant", Code.PermissionDenied);
    }
    return principal.tenant;
  }
  return named ?? undefined;
}
