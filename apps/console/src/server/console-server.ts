import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConsoleConfig } from "./config.js";
import { contentSecurityPolicy, securityHeaders } from "./security-headers.js";
import type { SiteFile, StaticSite } from "./static-site.js";

/** What the browser app reads at start: where the services are. */
export interface BrowserConfig {
  readonly sessionUrl: string;
  readonly harnessUrl: string;
}

export interface ConsoleServer extends AsyncDisposable {
  readonly url: string;
  close(): Promise<void>;
}

type Reply =
  | { readonly status: number; readonly text: string }
  | { readonly file: SiteFile; readonly cacheControl: string };

const maxConnections = 1024;

// Longest request target served: routes and asset names are short, anything longer is not ours.
const maxUrlLength = 2048;

/**
 * Serves the built app and `/config.json`, GET and HEAD only. Requests have no
 * body to read and answers come from memory, so a client can cost the server
 * no more than one small buffer; headers and slow clients are bounded by
 * Node's limits, set tight below.
 */
export async function startConsoleServer(config: ConsoleConfig, site: StaticSite): Promise<ConsoleServer> {
  const headers = securityHeaders(contentSecurityPolicy([config.sessionUrl, config.harnessUrl]));
  const browserConfig: BrowserConfig = { sessionUrl: config.sessionUrl, harnessUrl: config.harnessUrl };
  const configFile: SiteFile = {
    body: Buffer.from(JSON.stringify(browserConfig)),
    type: "application/json",
    etag: "",
    immutable: false,
  };
  const server = createServer(
    { maxHeaderSize: 8 * 1024, requestTimeout: 10_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    (req, res) => handle(req, res),
  );
  server.maxRequestsPerSocket = 1000;
  // Sockets past this are closed at once: a flood of idle connections cannot exhaust descriptors.
  server.maxConnections = maxConnections;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const reply = route(req);
    if ("text" in reply) {
      if (reply.status === 405) res.setHeader("allow", "GET, HEAD");
      res.writeHead(reply.status, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(reply.text),
      });
      res.end(reply.text);
      return;
    }
    const { file, cacheControl } = reply;
    res.setHeader("cache-control", cacheControl);
    if (file.etag) {
      res.setHeader("etag", file.etag);
      if (req.headers["if-none-match"] === file.etag) {
        res.writeHead(304).end();
        return;
      }
    }
    res.writeHead(200, { "content-type": file.type, "content-length": file.body.length });
    res.end(req.method === "HEAD" ? undefined : file.body);
  }

  function route(req: IncomingMessage): Reply {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return { status: 405, text: `${req.method} is not served here: the console answers GET and HEAD only\n` };
    }
    const target = req.url ?? "/";
    if (target.length > maxUrlLength)
      return { status: 414, text: `the request path is longer than ${maxUrlLength} bytes\n` };
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(target, "http://console.invalid").pathname);
    } catch {
      return { status: 400, text: "the request path is not valid percent-encoding\n" };
    }
    if (urlPath === "/config.json") return { file: configFile, cacheControl: "no-store" };
    const file = site.file(urlPath);
    if (file) return { file, cacheControl: file.immutable ? "public, max-age=31536000, immutable" : "no-cache" };
    // A missing asset is a 404; any other path is a route of the app (deep links like
    // /sessions/<id>#seq-42), answered with the page, which routes it in the browser.
    if (urlPath.startsWith("/assets/") || /\.[a-z0-9]+$/i.test(urlPath)) {
      return { status: 404, text: `${urlPath} is not part of the console\n` };
    }
    return { file: site.index, cacheControl: "no-cache" };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  const close = () => closeServer(server);
  return { url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
