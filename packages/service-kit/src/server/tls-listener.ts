import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { offerStreams, type StreamTaker } from "./listener.js";

type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Server certificate and key (PEM), and optionally client-certificate checking (mTLS). */
export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA bundle that client certificates must chain to; set with requireClientCert. */
  readonly ca?: string | Buffer;
  /** Refuse connections without a client certificate signed by `ca`. */
  readonly requireClientCert?: boolean;
}

export interface TlsListener {
  readonly server: net.Server;
  /** Stops accepting, lets in-flight requests finish for `graceMs`, then drops every connection. */
  close(graceMs: number): Promise<void>;
}

/**
 * HTTPS on one port for every protocol: ALPN picks h2 (gRPC, Connect, gRPC-Web)
 * or http/1.1 (browsers), which is what `allowHTTP1` does over TLS.
 */
export function createTlsListener(handler: RequestHandler, tls: TlsOptions, take?: StreamTaker): TlsListener {
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const track = (closable: { once(event: "close", listener: () => void): unknown }) => {
    inFlight++;
    closable.once("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  };
  const counted: RequestHandler = (req, res) => {
    track(res);
    handler(req, res);
  };
  const server = http2.createSecureServer(
    {
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca ? { ca: tls.ca } : {}),
      requestCert: tls.requireClientCert === true,
      rejectUnauthorized: tls.requireClientCert === true,
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      minVersion: "TLSv1.2",
    },
    counted,
  );
  if (take) offerStreams(server, take, track);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("connection", (socket: net.Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  return {
    server,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      if (inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
