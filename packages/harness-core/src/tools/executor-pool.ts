import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService, type Tool } from "@reins/proto";
import { createBearerInterceptor, createTraceContextInterceptor } from "@reins/service-kit";
import { ToolAbortedError } from "../errors.js";

/** The outcome of a tool call as the model will read it. Failures are strings too. */
export interface ToolOutcome {
  readonly output: string;
  readonly isError: boolean;
  readonly exitCode: number;
  readonly durationMs: number;
  readonly truncated: boolean;
  /**
   * Set when the executor itself failed as a host that is gone (refusing,
   * shutting down, its stream broken), not when a tool failed: placement
   * reads it as a lost host. `started` is false only when the call surely never
   * began (the connection was refused, or the executor refused it up front).
   */
  readonly hostFailure?: { readonly started: boolean; readonly detail: string };
}

export interface ToolCall {
  readonly sessionId: string;
  readonly toolUseId: string;
  readonly name: string;
  readonly inputJson: string;
  /** The session's tenant ("" when it has none): decides which host tools it may use. */
  readonly tenant: string;
}

/**
 * Executor clients by address (the session's own, or the harness default),
 * with the bearer token, a short-lived tool catalog cache, and one mapping of
 * executor failures to tool results: an executor that is down, slow or
 * refusing becomes an error string the model reads, never a dead session.
 */
export interface ExecutorPool {
  execute(address: string, call: ToolCall, signal?: AbortSignal): Promise<ToolOutcome>;
  /** The catalog of the executor at `address` (cached for `catalogTtlMs`). */
  listTools(address: string, options?: ListToolsOptions): Promise<Tool[]>;
  /** `address`, or the default when empty; PERMISSION_DENIED for an address not allowed. */
  resolve(address: string): string;
  /** Where a call of `name` from a session of `tenant` runs when not on an executor (set by the routers). */
  kindOf?(name: string, tenant: string): "host" | "mcp" | undefined;
  /** Sources of tools for `tenant` that the last listing could not read, with why. */
  unavailableSources?(tenant: string): ReadonlyMap<string, string>;
}

export interface ListToolsOptions {
  readonly fresh?: boolean;
  readonly signal?: AbortSignal;
  /** The tenant the tools are for ("" or absent: none); the executor's catalog is the same for all. */
  readonly tenant?: string;
  /** The names the caller looks for, if it knows: a source that cannot list them may say why. */
  readonly names?: readonly string[];
}

export interface ExecutorPoolOptions {
  /** Used for sessions whose config names no executor. */
  readonly defaultAddress?: string;
  readonly token?: string;
  /** Executors a session may name besides the default. The bearer token goes to
   * these and the default only: a client-named address must never collect it. */
  readonly allowedAddresses?: readonly string[];
  /** Addresses the executor registry lists (placement): the token may go to them too. */
  readonly isRegistered?: (address: string) => boolean;
  /** Default 10 s. */
  readonly catalogTtlMs?: number;
  /** For tests: how to reach an address. Default: gRPC over HTTP/2. */
  readonly transport?: (address: string, interceptors: Interceptor[]) => Transport;
}

export function createExecutorPool(options: ExecutorPoolOptions = {}): ExecutorPool {
  const clients = new Map<string, Client<typeof ExecutorService>>();
  const catalogs = new Map<string, { tools: Tool[]; at: number }>();
  const ttl = options.catalogTtlMs ?? 10_000;
  const auth = createBearerInterceptor(options.token);
  const traceContext = createTraceContextInterceptor();
  const makeTransport =
    options.transport ?? ((address, interceptors) => createGrpcTransport({ baseUrl: address, interceptors }));

  const allowed = new Set(
    [options.defaultAddress ?? "", ...(options.allowedAddresses ?? [])].filter((a) => a !== "").map(normalize),
  );
  const resolve = (address: string) => {
    const resolved = address || options.defaultAddress || "";
    if (!resolved) throw new ConnectError("no executor address configured", Code.FailedPrecondition);
    if (!allowed.has(normalize(resolved)) && !options.isRegistered?.(resolved)) {
      throw new ConnectError(
        `executor ${JSON.stringify(resolved)} is not one this harness may use (allowed: ${[...allowed].join(", ") || "none"})`,
        Code.PermissionDenied,
      );
    }
    return resolved;
  };
  const clientFor = (address: string) => {
    let client = clients.get(address);
    if (!client) {
      client = createClient(ExecutorService, makeTransport(address, [auth, traceContext]));
      clients.set(address, client);
    }
    return client;
  };

  return {
    resolve,
    async execute(address, call, signal) {
      const started = performance.now();
      let target = address;
      try {
        target = resolve(address);
        const res = await clientFor(target).execute(
          { name: call.name, inputJson: call.inputJson, sessionId: call.sessionId, callId: call.toolUseId },
          { signal },
        );
        return {
          output: res.output,
          isError: res.isError,
          exitCode: res.exitCode,
          durationMs: res.duration ? durationMs(res.duration) : performance.now() - started,
          truncated: res.truncated,
        };
      } catch (err) {
        if (signal?.aborted) throw new ToolAbortedError(`tool call ${call.toolUseId} cancelled`, { cause: err });
        const hostFailure = hostFailureOf(err);
        return {
          output: describeExecutorFailure(target, call.name, err),
          isError: true,
          exitCode: -1,
          durationMs: performance.now() - started,
          truncated: false,
          ...(hostFailure ? { hostFailure } : {}),
        };
      }
    },
    async listTools(address, { fresh = false, signal } = {}) {
      const target = resolve(address);
      const cached = catalogs.get(target);
      if (cached && !fresh && performance.now() - cached.at < ttl) return cached.tools;
      const { tools } = await clientFor(target).listTools({}, { signal });
      catalogs.set(target, { tools, at: performance.now() });
      return tools;
    },
  };
}

// "http://127.0.0.1:7003/" and "HTTP://127.0.0.1:7003" are one executor.
function normalize(address: string): string {
  return URL.canParse(address) ? new URL(address).href.replace(/\/+$/, "") : address;
}

/** The error string the model reads when the executor itself failed. */
export function describeExecutorFailure(address: string, tool: string, err: unknown): string {
  const e = ConnectError.from(err);
  const detail = e.rawMessage;
  switch (e.code) {
    case Code.Unavailable:
      return `error: the executor at ${address} is unavailable, so ${tool} did not run (or its outcome is unknown): ${detail}`;
    case Code.DeadlineExceeded:
      return `error: ${tool} timed out waiting for the executor at ${address}; its outcome is unknown`;
    case Code.InvalidArgument:
    case Code.NotFound:
      return `error: the executor rejected the call to ${tool}: ${detail}`;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return `error: the executor at ${address} refused the call to ${tool} (${Code[e.code]}): ${detail}`;
    default:
      return `error: ${tool} failed in the executor at ${address} (${Code[e.code]}): ${detail}`;
  }
}

// Node's codes for a peer that is not there at all: nothing was sent.
const refusedCodes = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// What a stream cut by a peer that went away reads as, under whichever code connect-node gives it.
const brokenStream =
  /ECONNRESET|EPIPE|socket hang up|GOAWAY|NGHTTP2|stream (closed|reset|ended)|premature close|aborted/i;

/**
 * Whether an Execute failure means the executor host is gone rather than the
 * tool failing: UNAVAILABLE (refused, shutting down), CANCELED or a broken
 * stream while the caller did not cancel. Undefined for anything else.
 */
export function hostFailureOf(err: unknown): { started: boolean; detail: string } | undefined {
  const e = ConnectError.from(err);
  const detail = e.rawMessage;
  const refused = causeCodes(err).some((code) => refusedCodes.has(code));
  // The executor says this before it starts anything (executor.ts, checkCaller).
  const refusedUpFront = /shutting down; retry on another executor/.test(detail);
  if (refused || refusedUpFront) return { started: false, detail };
  if (e.code === Code.Unavailable || e.code === Code.Canceled) return { started: true, detail };
  if ((e.code === Code.Internal || e.code === Code.Unknown) && brokenStream.test(detail)) {
    return { started: true, detail };
  }
  return undefined;
}

function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === "string") codes.push(code);
    current = cause;
  }
  return codes;
}
