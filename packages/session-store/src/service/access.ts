import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type MethodPolicy, principalKey, tenantScope } from "@reins/service-kit";

/**
 * Who may call what on the session service, when tokens are configured.
 *
 * - `client`: a user or UI. Reads, creates and deletes its own tenant's
 *   sessions. It may not append: the harness is the log's writer, and a client
 *   that could append could forge the model's answers or tool results the next
 *   run reads back (log poisoning). Clients talk to the harness to act.
 * - `harness`: the agent loop, acting for clients of every tenant.
 * - `operator`: administration, across every tenant.
 */
export const sessionServicePolicy: MethodPolicy = {
  CreateSession: ["client", "harness", "operator"],
  GetSession: ["client", "harness", "operator"],
  ListSessions: ["client", "harness", "operator"],
  AppendEvents: ["harness", "operator"],
  AppendEventsStream: ["harness", "operator"],
  GetEvents: ["client", "harness", "operator"],
  GetLatestEvent: ["client", "harness", "operator"],
  StreamEvents: ["client", "harness", "operator"],
  DeleteSession: ["client", "harness", "operator"],
};

/**
 * Whether the caller may write events of its choosing: the roles that may call
 * AppendEvents (everyone when authentication is off). CreateSession's
 * `initial_events` are such a write.
 */
export function mayWriteEvents(ctx: HandlerContext): boolean {
  const { role } = ctx.values.get(principalKey);
  return role === "" || (sessionServicePolicy.AppendEvents ?? []).includes(role);
}

/** The tenant a call is confined to, or undefined when it may touch every tenant. */
export const scopeOf = (ctx: HandlerContext): string | undefined =>
  tenantScope(ctx.values.get(principalKey), ctx.requestHeader);

/**
 * The tenant one append on an AppendEventsStream is confined to: the stream's
 * scope, narrowed by the append's own `tenant`, which may not widen it.
 */
export function appendScopeOf(ctx: HandlerContext, tenant: string): string | undefined {
  const scope = scopeOf(ctx);
  if (tenant === "" || tenant === scope) return scope;
  if (scope === undefined) return tenant;
  throw new ConnectError(
    `tenant ${JSON.stringify(tenant.slice(0, 128))}: this stream is confined to another tenant`,
    Code.PermissionDenied,
  );
}

/**
 * The tenant a new session gets: the one an unconfined caller (harness,
 * operator) names, else the caller's scope, else its token's tenant. A
 * confined caller naming another tenant is refused.
 */
export function tenantForCreate(ctx: HandlerContext, requested: string): string {
  const scope = scopeOf(ctx);
  if (scope === undefined) return requested || ctx.values.get(principalKey).tenant;
  if (requested === "" || requested === scope) return scope;
  throw new ConnectError(
    `tenant ${JSON.stringify(requested.slice(0, 128))}: this caller creates sessions in its own tenant only`,
    Code.PermissionDenied,
  );
}
