import type { CallOptions, HandlerContext } from "@connectrpc/connect";
import { type MethodPolicy, principalKey, tenantHeader, tenantScope } from "@reins/service-kit";
import type { SessionClient } from "../log/index.js";

/**
 * Who may call what on the harness service, when tokens are configured.
 *
 * - `client`: a user or UI, acting on its own tenant's sessions only: every
 *   call goes to the session service confined to that tenant, so another
 *   tenant's session answers NOT_FOUND exactly as a missing one.
 * - `operator`: administration, on every tenant's sessions.
 * - `harness`: not a caller of harnesses; its token is for the session service
 *   and executors.
 */
export const harnessServicePolicy: MethodPolicy = {
  StartSession: ["client", "operator"],
  SendMessage: ["client", "operator"],
  Wake: ["client", "operator"],
  Interrupt: ["client", "operator"],
  RunSession: ["client", "operator"],
  ListToolCatalog: ["client", "operator"],
  ConfirmToolUse: ["client", "operator"],
  SendCustomToolResult: ["client", "operator"],
  StreamText: ["client", "operator"],
};

/**
 * The session client to use for one harness call: the shared one for callers
 * that span tenants, or one whose every call carries the caller's tenant, so
 * that the session service confines it (the check lives in one place, and a
 * refused session's error is the session service's own NOT_FOUND).
 */
export function sessionsFor(sessions: SessionClient, ctx: HandlerContext): SessionClient {
  const scope = tenantScope(ctx.values.get(principalKey), ctx.requestHeader);
  return scope === undefined ? sessions : forTenant(sessions, scope);
}

/** The tenant a session this call creates belongs to: the caller's scope, else its token's tenant. */
export function creatorTenant(ctx: HandlerContext): string {
  return tenantScope(ctx.values.get(principalKey), ctx.requestHeader) ?? ctx.values.get(principalKey).tenant;
}

/** `sessions` with `tenantHeader: tenant` added to every call. */
export function forTenant(sessions: SessionClient, tenant: string): SessionClient {
  const withTenant = (options: CallOptions | undefined): CallOptions => {
    const headers = new Headers(options?.headers);
    headers.set(tenantHeader, tenant);
    return { ...options, headers };
  };
  return new Proxy(sessions, {
    get(target, property, receiver) {
      const method: unknown = Reflect.get(target, property, receiver);
      if (typeof method !== "function") return method;
      return (request: unknown, options?: CallOptions) => method.call(target, request, withTenant(options));
    },
  });
}
