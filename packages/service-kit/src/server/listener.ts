import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

// Every HTTP/2 client with prior knowledge (gRPC over cleartext) opens with this preface.
const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * A listener that serves cleartext HTTP/2 (gRPC, h2c) and HTTP/1.1 (browsers:
 * Connect and gRPC-Web) on one port by sniffing the connection preface. Node's
 * `allowHTTP1` only works over TLS (ALPN), hence the sniffing.
 */
export interface DualListener {
  readonly server: net.Server;
  readonly h2: http2.Http2Server;
  readonly h1: http.Server;
  /** Closes idle connections and stops accepting; resolves when all are gone. */
  close(graceMs: number): Promise<void>;
}

/** Serves a stream itself and returns true, or returns false to leave it to the request handler. */
export type StreamTaker = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/**
 * Offers every HTTP/2 stream to `take` before Node's compatibility layer (which
 * makes the request/response pair the handler gets) sees it. `onTaken` is told
 * of each stream taken. Without a recognisable compatibility listener (another
 * Node version), nothing changes.
 */
export function offerStreams(
  server: http2.Http2Server | http2.Http2SecureServer,
  take: StreamTaker,
  onTaken: (stream: http2.ServerHttp2Stream) => void,
): void {
  const listeners = server.listeners("stream");
  const compat = listeners[0];
  if (listeners.length !== 1 || typeof compat !== "function") return;
  server.removeListener("stream", compat as (...args: unknown[]) => void);
  server.on("stream", function (this: unknown, stream, headers, ...rest) {
    if (take(stream, headers)) onTaken(stream);
    else compat.call(this, stream, headers, ...rest);
  });
}

export function createDualListener(handler: RequestHandler, take?: StreamTaker): DualListener {
  // In-flight requests are counted so close() can drain them, then drop the idle
  // keep-alive connections that clients would otherwise hold open for minutes.
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
  const h2 = http2.createServer({}, counted);
  if (take) offerStreams(h2, take, track);
  const h1 = http.createServer(counted);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  const server = net.createServer((socket) => {
    // Small gRPC frames (a unary answer, a stream's next event) go out at once
    // instead of waiting for the previous segment's ACK.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("readable", () => route(socket));
  });

  function route(socket: net.Socket): void {
    const head: Buffer | null = socket.read(h2Preface.length) ?? socket.read();
    if (head === null) {
      socket.once("readable", () => route(socket));
      return;
    }
    socket.unshift(head);
    const n = Math.min(head.length, h2Preface.length);
    const isH2 = h2Preface.subarray(0, n).equals(head.subarray(0, n));
    (isH2 ? h2 : h1).emit("connection", socket);
  }

  return {
    server,
    h2,
    h1,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
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
