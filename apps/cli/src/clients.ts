import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService, grpcHealthV1, HarnessService, SessionService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import { CliError } from "./cli-error.js";
import type { Targets } from "./targets.js";

export interface Clients {
  readonly harness: Client<typeof HarnessService>;
  readonly session: Client<typeof SessionService>;
}

const transports = new Map<string, Transport>();

// One HTTP/2 connection per service URL for the life of the command.
function transportFor(baseUrl: string, token: string | undefined): Transport {
  const key = `${baseUrl}\n${token ?? ""}`;
  let transport = transports.get(key);
  if (!transport) {
    transport = createGrpcTransport({ baseUrl, interceptors: [createBearerInterceptor(token)] });
    transports.set(key, transport);
  }
  return transport;
}

export function clientFor<S extends DescService>(service: S, baseUrl: string, token?: string): Client<S> {
  return createClient(service, transportFor(baseUrl, token));
}

/**
 * The executor, for reading its tool catalog: its address and token come from
 * the local stack (or REINS_EXECUTOR_URL / REINS_EXECUTOR_TOKEN).
 */
export function executorClient(targets: Targets): Client<typeof ExecutorService> {
  if (!targets.executorUrl) {
    throw new CliError("no executor address: start the stack with `reins up`, or pass --executor-url");
  }
  return clientFor(ExecutorService, targets.executorUrl, targets.executorToken);
}

export function createClients(targets: Targets): Clients {
  return {
    harness: clientFor(HarnessService, targets.harnessUrl, targets.token),
    session: clientFor(SessionService, targets.sessionUrl, targets.token),
  };
}

export type HealthState = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "UNREACHABLE";

/** grpc.health.v1 Check of the whole server ("" service), never throwing. */
export async function checkHealth(baseUrl: string, timeoutMs = 2_000): Promise<HealthState> {
  const { Health, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;
  try {
    const res = await clientFor(Health, baseUrl).check({ service: "" }, { timeoutMs });
    if (res.status === Status.SERVING) return "SERVING";
    if (res.status === Status.NOT_SERVING) return "NOT_SERVING";
    return "UNKNOWN";
  } catch {
    return "UNREACHABLE";
  }
}
