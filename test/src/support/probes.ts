import { type DescService, fromJson, type JsonObject, toJson } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService, HarnessService, SessionService } from "@reins/proto";
import { expect } from "vitest";
import { createGrpcJsClient, grpcJsCall, grpcTarget } from "./grpc-js-client.js";
import { connectOutcome, type Outcome } from "./outcome.js";
import type { PythonClient } from "./python-client.js";
import type { Stack } from "./stack.js";

export type ClientName = "connect" | "grpc-js" | "python";
export const clientNames: readonly ClientName[] = ["connect", "grpc-js", "python"];

/** One RPC of one daemon that every client must see answered the same way. */
export interface Probe {
  readonly daemon: "session" | "executor" | "harness";
  readonly service: DescService;
  readonly method: string;
  /** The request as proto3 JSON; `client` keeps the three clients' ids apart. */
  request(client: ClientName): JsonObject;
  check(outcome: Outcome, client: ClientName): void;
}

const unimplemented = (service: DescService, method: string) => (outcome: Outcome) =>
  expect(outcome).toEqual({
    ok: false,
    code: "UNIMPLEMENTED",
    message: `${service.typeName}.${method} is not implemented`,
  });

export const probes: readonly Probe[] = [
  {
    daemon: "session",
    service: SessionService,
    method: "GetSession",
    request: (client) => ({ sessionId: `wire-${client}` }),
    check: unimplemented(SessionService, "GetSession"),
  },
  {
    daemon: "executor",
    service: ExecutorService,
    method: "ListTools",
    request: () => ({}),
    check: unimplemented(ExecutorService, "ListTools"),
  },
  {
    daemon: "harness",
    service: HarnessService,
    method: "Wake",
    request: (client) => ({ sessionId: `wire-${client}` }),
    check: unimplemented(HarnessService, "Wake"),
  },
];

/** Where a probe's daemon listens and which headers its calls need. */
export function targetOf(stack: Stack, probe: Probe): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> =
    probe.daemon === "executor" ? { authorization: `Bearer ${stack.executorToken}` } : {};
  return { url: stack[probe.daemon].url, headers };
}

type UntypedClient = Record<
  string,
  (request: unknown, options: { headers: Record<string, string> }) => Promise<unknown>
>;

/**
 * The probe's call through connect-node and the generated TypeScript, over gRPC unless
 * another transport (Connect, gRPC-Web) is given.
 */
export async function callWithConnect(
  stack: Stack,
  probe: Probe,
  client: ClientName,
  transport?: Transport,
): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const method = probe.service.methods.find((m) => m.name === probe.method);
  if (method?.methodKind !== "unary") throw new Error(`${probe.method} is not a unary method`);
  const rpc = createClient(
    probe.service,
    transport ?? createGrpcTransport({ baseUrl: url }),
  ) as unknown as UntypedClient;
  const call = rpc[method.localName];
  if (!call) throw new Error(`no ${method.localName} on the Connect client`);
  const request = fromJson(method.input, probe.request(client));
  return connectOutcome(async () => {
    const response = await call(request, { headers });
    return toJson(method.output, response as never) as Record<string, unknown>;
  });
}

/** The probe's call through @grpc/grpc-js and @grpc/proto-loader. */
export async function callWithGrpcJs(stack: Stack, probe: Probe, client: ClientName): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const grpcClient = createGrpcJsClient(probe.service.typeName, grpcTarget(url));
  try {
    return await grpcJsCall(grpcClient, probe.method, probe.request(client), headers);
  } finally {
    grpcClient.close();
  }
}

/** The probe's call through Python's grpcio and protoc-generated stubs. */
export async function callWithPython(
  python: PythonClient,
  stack: Stack,
  probe: Probe,
  client: ClientName,
): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const result = await python.run({
    target: grpcTarget(url),
    metadata: Object.entries(headers),
    health: [],
    calls: [{ service: probe.service.typeName, method: probe.method, request: probe.request(client) }],
  });
  const [outcome] = result.calls;
  if (!outcome) throw new Error("the Python client returned no outcome");
  return outcome;
}
