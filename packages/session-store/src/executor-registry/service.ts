import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  DeregisterResponseSchema,
  DrainExecutorResponseSchema,
  type ExecutorRegistryService,
  GetExecutorResponseSchema,
  HeartbeatResponseSchema,
  ListExecutorsResponseSchema,
} from "@reins/proto";
import { executorRole, type MethodPolicy, principalKey } from "@reins/service-kit";
import { toConnectError } from "../errors.js";
import type { ExecutorRegistry } from "./registry.js";
import { checkExecutorId, checkExecutorInfo, checkListRequest } from "./validate.js";

/**
 * Who may call what on the registry, when tokens are configured.
 *
 * - `executor` (a registration token, bound to one executor id): Heartbeat and
 *   Deregister of that id only. No service token can register an executor: a
 *   harness or client that could would direct sessions, and the code they run,
 *   to a host of its choosing.
 * - `harness`: lists executors to place sessions on them.
 * - `operator`: lists, and drains or takes back.
 * - `client`: none. Sandbox hosts' addresses and load are the deployment's
 *   topology, not a user's business; clients see placements in their logs.
 */
export const executorRegistryPolicy: MethodPolicy = {
  Heartbeat: [executorRole],
  Deregister: [executorRole],
  ListExecutors: ["harness", "operator"],
  GetExecutor: ["harness", "operator"],
  DrainExecutor: ["operator"],
};

/**
 * A registration token speaks for its own executor id only. The auth interceptor
 * has already admitted just the executor role (or no auth at all: anonymous).
 */
function authorizeRegistrant(ctx: HandlerContext, id: string): void {
  const principal = ctx.values.get(principalKey);
  if (principal.role === "") return;
  if (principal.role !== executorRole || principal.executorId !== id) {
    throw new ConnectError(
      principal.role === executorRole
        ? `this registration token is bound to executor ${JSON.stringify(principal.executorId)}, not ${JSON.stringify(id)}`
        : `role "${principal.role}" may not register executors`,
      Code.PermissionDenied,
    );
  }
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toConnectError(err);
  }
}

/** The reins.executor.v1.ExecutorRegistryService handlers over a registry. */
export function createExecutorRegistryServiceImpl(
  registry: ExecutorRegistry,
): ServiceImpl<typeof ExecutorRegistryService> {
  return {
    heartbeat: (req, ctx) =>
      mapped(async () => {
        checkExecutorInfo(req.executor);
        authorizeRegistrant(ctx, req.executor.id);
        const stored = await registry.heartbeat(req.executor);
        return create(HeartbeatResponseSchema, {
          heartbeatInterval: durationFromMs(registry.heartbeatIntervalMs),
          ttl: durationFromMs(registry.ttlMs),
          draining: stored.draining,
        });
      }),

    deregister: (req, ctx) =>
      mapped(async () => {
        checkExecutorId(req.id);
        if (req.incarnation === "") throw new ConnectError("incarnation is required", Code.InvalidArgument);
        authorizeRegistrant(ctx, req.id);
        return create(DeregisterResponseSchema, { removed: await registry.deregister(req.id, req.incarnation) });
      }),

    listExecutors: (req) =>
      mapped(async () => {
        checkListRequest(req);
        const executors = await registry.list({
          selector: req.selector,
          tools: req.tools,
          excludeDraining: req.excludeDraining,
        });
        return create(ListExecutorsResponseSchema, { executors });
      }),

    getExecutor: (req) =>
      mapped(async () => {
        checkExecutorId(req.id);
        return create(GetExecutorResponseSchema, { executor: await registry.get(req.id) });
      }),

    drainExecutor: (req) =>
      mapped(async () => {
        checkExecutorId(req.id);
        return create(DrainExecutorResponseSchema, { executor: await registry.drain(req.id, req.draining) });
      }),
  };
}
