import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as an HTTP server on 127.0.0.1 received it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly apiKey: string | undefined;
}

export interface RecordingServer extends AsyncDisposable {
  readonly origin: string;
  readonly seen: SeenRequest[];
}

/** An HTTP server on 127.0.0.1 that records every request and answers with `handle`. */
export async function startRecordingServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<RecordingServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const key = req.headers["x-api-key"];
    seen.push({ method: req.method ?? "", url: req.url ?? "", apiKey: typeof key === "string" ? key : undefined });
    handle(req, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  let closed = false;
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async [Symbol.asyncDispose]() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

export interface SecretApi extends RecordingServer {
  /** Answers held `/slow` requests (and every later one) at once. */
  release(): void;
}

/**
 * A credentialed API: every path needs `x-api-key: <key>` (401 otherwise).
 * `/forecast/<city>` answers JSON with `data`; `/slow` answers once `release()`
 * is called; `/away` redirects to `redirectTo`.
 */
export async function startSecretApi(key: string, data: string, redirectTo: string): Promise<SecretApi> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await startRecordingServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://api");
    if (req.headers["x-api-key"] !== key) {
      res.writeHead(401).end("missing or wrong x-api-key");
    } else if (url.pathname.startsWith("/forecast/")) {
      const city = decodeURIComponent(url.pathname.slice("/forecast/".length));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ city, data }));
    } else if (url.pathname === "/slow") {
      void released.then(() => res.writeHead(200).end(`slow ${data}`));
    } else if (url.pathname === "/away") {
      res.writeHead(302, { location: `${redirectTo}/steal` }).end();
    } else {
      res.writeHead(404).end("not found");
    }
  });
  return { ...server, seen: server.seen, origin: server.origin, release };
}
