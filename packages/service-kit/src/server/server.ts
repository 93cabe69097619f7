import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import { cors as connectCors } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { grpcHealthV1, grpcReflectionV1, grpcReflectionV1alpha } from "@reins/proto";
import type { Registry } from "prom-client";
import { createRpcMetricsInterceptor } from "../metrics/rpc-metrics.js";
import { createServerSpanInterceptor } from "../tracing/index.js";
import { createErrorMetadataInterceptor } from "./error-metadata.js";
import { createUnaryFastPath } from "./grpc-unary-fast-path.js";
import { createHealth, type Health, ServingStatus } from "./health.js";
import { createDualListener } from "./listener.js";
import { registerReflection } from "./reflection.js";
import { createTlsListener, type TlsOptions } from "./tls-listener.js";

/**
 * A bidi call whose handler has answered in full while its client still has the
 * request open (a stream the service ended, on shutdown say) would otherwise
 * stay half-open, holding the server's drain until its grace runs out. RFC 9113
 * (8.1): after a complete response the server may reset the stream with
 * NO_ERROR, telling the client to stop sending without failing the call.
 */
function endRequestWithResponse(req: http2.Http2ServerRequest): void {
  // gRPC answers end with trailers: the response's own listener (registered
  // before this one) sends them, and the reset follows them out.
  req.stream.once("wantTrailers", () => {
    setImmediate(() => {
      if (!req.complete && !req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

/** One service implementation to mount. */
export interface ServiceBinding<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: Partial<ServiceImpl<S>>;
}

export function bindService<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceBinding {
  return { service, impl } as unknown as ServiceBinding;
}

export interface ServerOptions {
  readonly services: readonly ServiceBinding[];
  /** Default 127.0.0.1: exposing a daemon beyond loopback is an explicit choice. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly interceptors?: readonly Interceptor[];
  /** Origins allowed to call from a browser; empty disables CORS. "*" allows any. */
  readonly corsOrigins?: readonly string[];
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes?: number;
  /** How long in-flight calls may finish after close() starts. */
  readonly shutdownGraceMs?: number;
  /** Serve HTTPS (ALPN h2 and http/1.1) instead of cleartext; the url becomes https://. */
  readonly tls?: TlsOptions;
  /**
   * Serve unary gRPC calls with binary messages without connect-node's adapter
   * (grpc-unary-fast-path.ts): same answers, a fraction of the CPU. Default true;
   * false sends every call through connect-node.
   */
  readonly unaryFastPath?: boolean;
  /** Counts and times every call into this registry (reins_rpc_requests_total, reins_rpc_duration_seconds). */
  readonly metrics?: Registry;
}

export interface ReinsServer extends AsyncDisposable {
  readonly port: number;
  readonly host: string;
  /** e.g. "http://127.0.0.1:7001" (https:// with TLS): what Connect and grpc-js clients dial. */
  readonly url: string;
  readonly health: Health;
  /** Marks the server NOT_SERVING, lets in-flight calls finish, then stops. */
  close(): Promise<void>;
}

/**
 * Starts a server that speaks gRPC, gRPC-Web and Connect on one port and always
 * serves grpc.health.v1 and server reflection alongside `services`.
 */
export async function startServer(options: ServerOptions): Promise<ReinsServer> {
  const health = createHealth({ "": ServingStatus.SERVING });
  for (const { service } of options.services) health.set(service.typeName, ServingStatus.SERVING);

  const served = [
    ...options.services.map((s) => s.service),
    grpcHealthV1.Health,
    grpcReflectionV1.ServerReflection,
    grpcReflectionV1alpha.ServerReflection,
  ];
  const routes = (router: ConnectRouter) => {
    for (const { service, impl } of options.services) router.service(service, impl);
    health.register(router);
    // Health and reflection are listed and described too, as grpc-go and grpc-java servers
    // do: `grpcurl <host> grpc.health.v1.Health/Check` needs their descriptors.
    registerReflection(router, served);
  };
  // Outermost, so they also see errors thrown by the other interceptors (authentication
  // among them); the span next, so it times (and its status shows) refusals by auth too.
  const interceptors = [
    ...(options.metrics ? [createRpcMetricsInterceptor(options.metrics, served)] : []),
    createErrorMetadataInterceptor(),
    createServerSpanInterceptor(),
    ...(options.interceptors ?? []),
  ];
  const readMaxBytes = options.readMaxBytes ?? 8 * 1024 * 1024;
  const fast =
    options.unaryFastPath === false
      ? undefined
      : createUnaryFastPath({ interceptors, readMaxBytes, acceptCompression: [compressionGzip, compressionBrotli] });
  const adapter = connectNodeAdapter({
    routes: fast ? (router) => routes(fast.record(router)) : routes,
    interceptors,
    readMaxBytes,
    acceptCompression: [compressionGzip, compressionBrotli],
    // As the protobuf JSON mapping asks of parsers: a field or enum name this server does not
    // know is refused, not silently dropped (a dropped filter would widen a query).
    jsonOptions: { ignoreUnknownFields: false },
  });
  const origins = options.corsOrigins ?? [];
  const handler: Parameters<typeof createDualListener>[0] = (req, res) => {
    if (origins.length > 0 && applyCors(req.headers.origin, origins, req.method ?? "", res)) return;
    if ("stream" in req) endRequestWithResponse(req);
    adapter(req, res);
  };

  // Browsers (CORS) are answered by the handler: the fast path leaves calls with an origin to it.
  const take = fast
    ? (stream: Parameters<typeof fast.take>[0], headers: Parameters<typeof fast.take>[1]) => fast.take(stream, headers)
    : undefined;
  const listener = options.tls ? createTlsListener(handler, options.tls, take) : createDualListener(handler, take);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    listener.server.once("error", reject);
    listener.server.listen(options.port ?? 0, host, () => {
      listener.server.off("error", reject);
      resolve();
    });
  });
  const port = (listener.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      health.shutdown();
      await listener.close(options.shutdownGraceMs ?? 5_000);
    })();
    return closing;
  };
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    port,
    host,
    url: `${options.tls ? "https" : "http"}://${urlHost}:${port}`,
    health,
    close,
    [Symbol.asyncDispose]: close,
  };
}

// Returns true when the request was a preflight that has been answered.
function applyCors(
  origin: string | string[] | undefined,
  allowed: readonly string[],
  method: string,
  res: { setHeader(name: string, value: string): unknown; writeHead(status: number): unknown; end(): unknown },
): boolean {
  if (typeof origin !== "string") return false;
  if (!allowed.includes("*") && !allowed.includes(origin)) return false;
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("vary", "origin");
  res.setHeader("access-control-expose-headers", connectCors.exposedHeaders.join(", "));
  if (method !== "OPTIONS") return false;
  res.setHeader("access-control-allow-methods", connectCors.allowedMethods.join(", "));
  res.setHeader("access-control-allow-headers", [...connectCors.allowedHeaders, "authorization"].join(", "));
  res.setHeader("access-control-max-age", "7200");
  res.writeHead(204);
  res.end();
  return true;
}
