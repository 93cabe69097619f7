import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseListenAddress } from "../logger.js";

export interface MetricsListenerOptions {
  readonly registry: Registry;
  /** Default 127.0.0.1: metrics say a lot about a deployment, exposing them is an explicit choice. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Open connections at once; more are refused. Default 16 (a few Prometheus replicas and an operator). */
  readonly maxConnections?: number;
  /** How long a client may take to send its request's headers. Default 5 s. */
  readonly headersTimeoutMs?: number;
}

export interface MetricsListener extends AsyncDisposable {
  /** e.g. "http://127.0.0.1:9401/metrics": what a scrape config names. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The admin listener: GET /metrics (Prometheus text format) and GET /healthz,
 * nothing else. Nothing here authenticates, so nothing here may be made to hold
 * much: connections are capped, slow headers and requests time out, a request
 * with a body is refused without reading it, and every other path or method
 * gets a short 404 or 405.
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const headersTimeout = options.headersTimeoutMs ?? 5_000;
  const server = http.createServer(
    {
      maxHeaderSize: 8 * 1024,
      headersTimeout,
      requestTimeout: Math.max(10_000, headersTimeout),
      // Timeouts are enforced by a periodic sweep (30 s by default): often enough that they hold.
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (req, res) => {
      const path = (req.url ?? "").split("?", 1)[0];
      if (path !== "/metrics" && path !== "/healthz")
        return answer(res, 404, "not found: this listener serves GET /metrics and GET /healthz\n");
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        return answer(res, 405, `method ${req.method} not allowed: use GET\n`);
      }
      if (hasBody(req)) return answer(res, 413, "a request body is not accepted here\n");
      if (path === "/healthz") return answer(res, 200, "ok\n");
      options.registry.metrics().then(
        (text) => {
          res.setHeader("content-type", options.registry.contentType);
          answer(res, 200, text, req.method === "HEAD");
        },
        (err: unknown) =>
          answer(res, 500, `cannot collect metrics: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    },
  );
  server.keepAliveTimeout = 5_000;
  server.maxConnections = options.maxConnections ?? 16;
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${urlHost}:${port}/metrics`, port, close, [Symbol.asyncDispose]: close };
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function answer(res: http.ServerResponse, status: number, body: string, headOnly = false): void {
  // Whatever the client meant to send after this is not read: the connection ends with the answer.
  if (status >= 400) res.setHeader("connection", "close");
  if (!res.hasHeader("content-type")) res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(body));
  res.writeHead(status);
  res.end(headOnly ? undefined : body);
}

/**
 * Where a daemon's metrics listener goes, from `REINS_<SVC>_METRICS_LISTEN`:
 * "off" (or "none") for no listener, "host:port", ":port" or "port"; unset, the
 * default port, or a free one when the daemon itself listens on port 0 (tests,
 * several daemons on one machine), so two daemons never fight over it.
 */
export function parseMetricsListen(
  value: string | undefined,
  defaultPort: number,
  daemonPort: number,
): { host: string; port: number } | undefined {
  const trimmed = value?.trim() ?? "";
  if (trimmed === "off" || trimmed === "none") return undefined;
  if (trimmed === "") return { host: "127.0.0.1", port: daemonPort === 0 ? 0 : defaultPort };
  return parseListenAddress(trimmed, defaultPort);
}
