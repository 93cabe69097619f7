import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";

/** Method label of a call to no method this server knows (never reaches here today; bounded anyway). */
export const unknownMethod = "unknown";

/** Seconds, from a fast unary call to a long stream. */
const durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * `reins_rpc_requests_total{service,method,code}` and
 * `reins_rpc_duration_seconds{service,method,code}` for every call a server
 * handles, unary or streaming, over gRPC, gRPC-Web or Connect (the unary fast
 * path runs the same interceptors). A stream is counted when it ends, with the
 * code it ended with; one the client cancels counts as CANCELLED.
 */
export function createRpcMetricsInterceptor(registry: Registry, services: readonly DescService[]): Interceptor {
  const known = new Set(services.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)));
  const requests = new Counter({
    name: "reins_rpc_requests_total",
    help: "RPCs handled, by service, method and gRPC status code.",
    labelNames: ["service", "method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "reins_rpc_duration_seconds",
    help: "Time from an RPC's arrival to its status, by service, method and gRPC status code.",
    labelNames: ["service", "method", "code"],
    buckets: durationBuckets,
    registers: [registry],
  });
  return (next) => async (req) => {
    const started = performance.now();
    const isKnown = known.has(`${req.service.typeName}/${req.method.name}`);
    const service = isKnown ? req.service.typeName : unknownMethod;
    const method = isKnown ? req.method.name : unknownMethod;
    const observe = (code: string) => {
      const labels = { service, method, code };
      requests.inc(labels);
      duration.observe(labels, (performance.now() - started) / 1000);
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      observe(codeName(err));
      throw err;
    }
    if (!res.stream) {
      observe("OK");
      return res;
    }
    return { ...res, message: observed(res.message, req.signal, observe) };
  };
}

async function* observed<T>(
  messages: AsyncIterable<T>,
  signal: AbortSignal,
  observe: (code: string) => void,
): AsyncGenerator<T> {
  let code = "CANCELLED";
  try {
    yield* messages;
    // A handler that ends its stream when the call's signal fires (the client
    // cancelled, the deadline passed) ends it without an error: the signal says why.
    code = signal.aborted ? (isConnectError(signal.reason) ? codeName(signal.reason) : "CANCELLED") : "OK";
  } catch (err) {
    code = codeName(err);
    throw err;
  } finally {
    // Reached on return() too: the client went away before the stream ended.
    observe(code);
  }
}

/** gRPC's canonical name of the error's code, e.g. "INVALID_ARGUMENT" (the form grpc-go and grpc-java report). */
export function codeName(err: unknown): string {
  return grpcCodeNames[isConnectError(err) ? err.code : Code.Unknown] ?? "UNKNOWN";
}

// By number, as the gRPC spec names them (connect spells 1 "Canceled").
const grpcCodeNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/**
 * By shape as well as by class: connect-node raises its reset errors from its own
 * copy of @connectrpc/connect when the two resolve apart, and `instanceof` then fails.
 */
function isConnectError(err: unknown): err is ConnectError {
  return (
    err instanceof ConnectError ||
    (err instanceof Error && err.name === "ConnectError" && typeof (err as { code?: unknown }).code === "number")
  );
}
