import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerSpec } from "./config.js";

/** The request never reached the server: a call that failed so did not run. */
export class NotSentError extends Error {
  override readonly name = "NotSentError";
}

/** The connection broke under a request (the server died, the stream was cut): its outcome is unknown. */
export class ConnectionBrokenError extends Error {
  override readonly name = "ConnectionBrokenError";
}

/**
 * One MCP server, reached through one client connection (an MCP session)
 * that is opened on first use, shared by every call, and opened again after it
 * broke. Every request, redirects included, goes to the server's own origin
 * only, and only there does the credential go.
 */
export interface ServerLink {
  listTools(signal?: AbortSignal): Promise<McpTool[]>;
  /** Rejects with the transport's error when the connection breaks under the call. */
  callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<CallToolResult>;
  close(): Promise<void>;
}

interface Connection {
  readonly client: Client;
  /** Aborted, with the cause, when the connection broke: calls on it end at once. */
  readonly broken: AbortSignal;
}

const clientInfo = { name: "reins-harness", version: "0.1.0" };

export function createServerLink(spec: McpServerSpec): ServerLink {
  let current: Promise<Connection> | undefined;
  const drop = (conn: Promise<Connection>) => {
    if (current === conn) current = undefined;
  };
  const open = (signal?: AbortSignal): Promise<Connection> => {
    if (current) return current;
    const broke = new AbortController();
    const client = new Client(clientInfo);
    const transport = new StreamableHTTPClientTransport(new URL(spec.url), {
      fetch: originBoundFetch(spec),
      // A broken stream is the call's failure: resuming it would leave the call waiting for its timeout.
      reconnectionOptions: {
        maxRetries: 0,
        initialReconnectionDelay: 0,
        maxReconnectionDelay: 0,
        reconnectionDelayGrowFactor: 1,
      },
    });
    const conn = (async () => {
      try {
        await client.connect(transport, { timeout: spec.timeoutMs, ...(signal ? { signal } : {}) });
      } catch (err) {
        await client.close().catch(() => {});
        throw new NotSentError(describe(err), { cause: err });
      }
      return { client, broken: broke.signal };
    })();
    client.onerror = (err) => {
      // The optional server-to-client stream is the server's to refuse; calls do not use it.
      if (/Failed to open SSE stream/.test(err.message)) return;
      broke.abort(err);
      drop(conn);
    };
    client.onclose = () => {
      broke.abort(new Error("the server closed the connection"));
      drop(conn);
    };
    conn.catch(() => drop(conn));
    current = conn;
    return conn;
  };

  // An MCP session the server forgot (it restarted) answers 404 before doing anything: safe to open anew once.
  async function withConnection<T>(signal: AbortSignal | undefined, run: (conn: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const pending = open(signal);
      const conn = await pending;
      try {
        return await run(conn);
      } catch (err) {
        if (conn.broken.aborted) {
          drop(pending);
          // The SDK reports the abort as a timeout; the cause is the transport's error.
          throw new ConnectionBrokenError(describe(conn.broken.reason), { cause: conn.broken.reason });
        }
        if (attempt === 1 && isSessionGone(err)) {
          drop(pending);
          await conn.client.close().catch(() => {});
          continue;
        }
        throw err;
      }
    }
  }

  const options = (conn: Connection, signal?: AbortSignal) => ({
    timeout: spec.timeoutMs,
    signal: signal ? AbortSignal.any([signal, conn.broken]) : conn.broken,
  });
  return {
    listTools: (signal) =>
      withConnection(signal, async (conn) => {
        const tools: McpTool[] = [];
        let cursor: string | undefined;
        do {
          const page = await conn.client.listTools(cursor ? { cursor } : {}, options(conn, signal));
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return tools;
      }),
    callTool: (name, args, signal) =>
      withConnection(
        signal,
        async (conn) =>
          (await conn.client.callTool({ name, arguments: args }, undefined, options(conn, signal))) as CallToolResult,
      ),
    async close() {
      const conn = current;
      current = undefined;
      await conn?.then((c) => c.client.close()).catch(() => {});
    },
  };
}

/**
 * fetch for one server: a request for any other origin is refused before it is
 * sent, redirects are never followed by fetch itself (the SDK follows those
 * within the origin, through this function again), and the credential header
 * is set here, so it exists on no request object the SDK could pass elsewhere.
 */
export function originBoundFetch(spec: McpServerSpec, base: FetchLike = fetch): FetchLike {
  return async (input, init) => {
    const url = new URL(input instanceof URL ? input.href : input);
    if (url.origin !== spec.origin) {
      throw new NotSentError(
        `refused to send a request to ${url.origin}: MCP server ${spec.name} is at ${spec.origin}`,
      );
    }
    const headers = new Headers(init?.headers);
    if (spec.credential) headers.set(spec.credential.header, spec.credential.value());
    return base(url, { ...init, headers, redirect: "manual" });
  };
}

// McpError codes are negative JSON-RPC codes; a transport error's code is the HTTP status.
function isSessionGone(err: unknown): boolean {
  return (err as { code?: unknown }).code === 404;
}

/** A failure's own words, with the cause of a fetch failure (ECONNREFUSED ...). */
export function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const status = (err as { code?: unknown }).code;
  const message = `${typeof status === "number" && status >= 100 ? `HTTP ${status}: ` : ""}${err instanceof Error ? err.message : String(err)}`;
  if (cause && typeof cause.message === "string" && !message.includes(cause.message))
    return `${message}: ${cause.message}`;
  return message;
}
