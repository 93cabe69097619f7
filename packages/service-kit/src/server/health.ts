import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { grpcHealthV1 } from "@reins/proto";

const { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: Status, Health } = grpcHealthV1;
export type ServingStatus = grpcHealthV1.HealthCheckResponse_ServingStatus;
export const ServingStatus = Status;

/**
 * Health is the grpc.health.v1 status table of one server. The empty service
 * name "" is the server as a whole, as the protocol defines.
 */
export interface Health {
  set(service: string, status: ServingStatus): void;
  get(service: string): ServingStatus | undefined;
  /** Marks every service NOT_SERVING, e.g. when shutdown starts draining. */
  shutdown(): void;
}

type Listener = (status: ServingStatus) => void;

export function createHealth(initial: Record<string, ServingStatus> = {}): Health & {
  register(router: ConnectRouter): void;
} {
  const statuses = new Map<string, ServingStatus>(Object.entries(initial));
  const listeners = new Map<string, Set<Listener>>();

  function set(service: string, status: ServingStatus): void {
    if (statuses.get(service) === status) return;
    statuses.set(service, status);
    for (const listener of listeners.get(service) ?? []) listener(status);
  }

  // Watch streams the current status, then every change, until the client leaves.
  async function* watch(service: string, ctx: HandlerContext) {
    const queue: ServingStatus[] = [statuses.get(service) ?? Status.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const listener: Listener = (s) => {
      queue.push(s);
      wake?.();
    };
    const set = listeners.get(service) ?? new Set<Listener>();
    listeners.set(service, set);
    set.add(listener);
    const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    try {
      while (!ctx.signal.aborted) {
        const next = queue.shift();
        if (next !== undefined) {
          yield create(HealthCheckResponseSchema, { status: next });
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
      }
    } finally {
      set.delete(listener);
    }
  }

  return {
    set,
    get: (service) => statuses.get(service),
    shutdown() {
      for (const service of statuses.keys()) set(service, Status.NOT_SERVING);
    },
    register(router) {
      router.service(Health, {
        check(req) {
          const status = statuses.get(req.service);
          if (status === undefined) {
            throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
          }
          return { status };
        },
        list() {
          const out: Record<string, grpcHealthV1.HealthCheckResponse> = {};
          for (const [name, status] of statuses) out[name] = create(HealthCheckResponseSchema, { status });
          return { statuses: out };
        },
        watch: (req, ctx) => watch(req.service, ctx),
      });
    },
  };
}
