import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Outcome } from "./outcome.js";
import { listProtoFiles, protoRoot } from "./protos.js";

// Built from the .proto sources at run time, the way a third-party Node client would, so
// nothing here shares code with the generated TypeScript the servers use.
const packageDefinition = protoLoader.loadSync(listProtoFiles(), {
  includeDirs: [protoRoot],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});

/** A client class made by grpc.makeClientConstructor: methods by name, untyped. */
export type ServiceClient = InstanceType<ReturnType<typeof grpc.makeClientConstructor>>;

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: Record<string, unknown>) => void,
) => grpc.ClientUnaryCall;

/** A grpc-js client of `serviceName` (e.g. "reins.session.v1.SessionService") at `target` (host:port). */
export function createGrpcJsClient(serviceName: string, target: string): ServiceClient {
  const definition = packageDefinition[serviceName];
  // Messages and enums are type definitions (with a "format"); services are method maps.
  if (!definition || "format" in definition) throw new Error(`no service ${serviceName} in proto/`);
  const Client = grpc.makeClientConstructor(definition as grpc.ServiceDefinition, serviceName);
  return new Client(target, grpc.credentials.createInsecure());
}

/** Calls a unary method through the client's generated method and reports what came back. */
export function grpcJsCall(
  client: ServiceClient,
  method: string,
  request: object,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const fn = client[method] as UnaryMethod | undefined;
  if (!fn) throw new Error(`no method ${method} on ${client.constructor.name}`);
  return new Promise((resolve) => {
    fn.call(client, request, metadata, { deadline: Date.now() + 10_000 }, (err, response) => {
      if (err) resolve({ ok: false, code: grpc.status[err.code], message: err.details });
      else resolve({ ok: true, response: response ?? {} });
    });
  });
}

/** host:port from a daemon URL ("http://127.0.0.1:7001"), as grpc-js and Python dial it. */
export function grpcTarget(url: string): string {
  return new URL(url).host;
}
