import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface FakeMcpServerOptions {
  /** The bearer token every request must carry; undefined: no auth. */
  readonly token?: string;
}

/** A tool call as the server received it. */
export interface FakeMcpCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

/**
 * An MCP server built with the SDK's own server classes (`McpServer` over
 * `StreamableHTTPServerTransport`, stateless), on real HTTP on 127.0.0.1,
 * with a bearer check. Its tools:
 *
 * - `echo {text}`: returns the text; `idempotentHint: true`.
 * - `whoami`: returns the authorization header it was sent (a server that
 *   echoes its credential).
 * - `huge {bytes}`: returns that many bytes of text.
 * - `fail`: a tool error (`isError`).
 * - `hang`: never answers (until the client gives up).
 * - `die`: the server dies mid-call: every connection is cut and it stops listening.
 */
export interface FakeMcpServer extends AsyncDisposable {
  /** The streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  readonly calls: readonly FakeMcpCall[];
  /** Authorization headers of every HTTP request, in order ("" when there was none). */
  readonly authorizations: readonly string[];
  /** Requests refused for a missing or wrong token. */
  readonly refused: number;
  /** Resolves once a `hang` call has arrived. */
  hanging(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeMcpServer(options: FakeMcpServerOptions = {}): Promise<FakeMcpServer> {
  const calls: FakeMcpCall[] = [];
  const authorizations: string[] = [];
  const sockets = new Set<Socket>();
  let refused = 0;
  let hangArrived: () => void = () => {};
  const hangPromise = new Promise<void>((resolve) => {
    hangArrived = resolve;
  });
  const stopped = new AbortController();

  const build = () => {
    const mcp = new McpServer({ name: "reins-fake-mcp", version: "0.1.0" });
    const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });
    mcp.registerTool(
      "echo",
      { description: "Echoes its text.", inputSchema: { text: z.string() }, annotations: { idempotentHint: true } },
      async (args) => {
        calls.push({ tool: "echo", args });
        return text(args.text);
      },
    );
    mcp.registerTool("whoami", { description: "The authorization header this server received." }, async (extra) => {
      calls.push({ tool: "whoami", args: {} });
      return text(`you sent: ${String(extra.requestInfo?.headers.authorization ?? "")}`);
    });
    mcp.registerTool(
      "huge",
      { description: "Returns that many bytes.", inputSchema: { bytes: z.number().int() } },
      async (args) => {
        calls.push({ tool: "huge", args });
        return text("x".repeat(args.bytes));
      },
    );
    mcp.registerTool("fail", { description: "Always fails." }, async () => {
      calls.push({ tool: "fail", args: {} });
      return { ...text("the tool failed on purpose"), isError: true };
    });
    mcp.registerTool("hang", { description: "Never answers." }, async (extra) => {
      calls.push({ tool: "hang", args: {} });
      hangArrived();
      await new Promise<void>((resolve) => {
        extra.signal.addEventListener("abort", () => resolve(), { once: true });
        stopped.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      return text("too late");
    });
    mcp.registerTool("die", { description: "The server dies under this call." }, async () => {
      calls.push({ tool: "die", args: {} });
      server.close();
      for (const socket of sockets) socket.destroy();
      return new Promise<never>(() => {});
    });
    return mcp;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const authorization = req.headers.authorization ?? "";
    authorizations.push(authorization);
    if (options.token !== undefined && authorization !== `Bearer ${options.token}`) {
      refused++;
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
      res.end(JSON.stringify({ error: "invalid_token" }));
      return;
    }
    if (req.method !== "POST") {
      // Stateless: no server-to-client stream and no session to end.
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const mcp = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    stopped.abort();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    authorizations,
    get refused() {
      return refused;
    },
    hanging: () => hangPromise,
    close,
    [Symbol.asyncDispose]: close,
  };
}
