import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Tool, ToolSchema } from "@reins/proto";
import { ToolAbortedError } from "../../errors.js";
import type { ToolCall, ToolOutcome } from "../executor-pool.js";
import { createScrubber, type Scrubber } from "../host-tools/redact.js";
import { describeCallFailure, resultText } from "./call-result.js";
import type { McpServerSpec } from "./config.js";
import { createServerLink, describe, type ServerLink } from "./server-link.js";
import { exposedName, parseExposedName } from "./tool-names.js";

/**
 * The tools of the configured MCP servers, described like catalog tools and
 * called from the harness process, so their credentials stay here.
 */
export interface McpTools {
  /** Whether a call of `name` from a session of `tenant` goes to an MCP server. */
  routes(name: string, tenant: string): boolean;
  /**
   * The tools a session of `tenant` is offered, from each server's listing
   * (reused for its `list_ttl_ms`; `fresh` asks again). A server that cannot be
   * listed keeps its last listing; one never listed is in `unavailable`.
   */
  catalog(tenant: string, options?: { fresh?: boolean; signal?: AbortSignal }): Promise<McpCatalog>;
  /** Servers of `tenant` that have no listing, with the last failure's reason. */
  unavailable(tenant: string): ReadonlyMap<string, string>;
  /** Runs a call that `routes`; throws only ToolAbortedError, when `signal` stops it. */
  execute(call: ToolCall, signal?: AbortSignal): Promise<ToolOutcome>;
  close(): Promise<void>;
}

export interface McpCatalog {
  readonly tools: Tool[];
  /** Servers of this tenant with no listing, and why. */
  readonly unavailable: ReadonlyMap<string, string>;
}

export interface McpToolsOptions {
  /** Told once per server and tool whose exposed name the Messages API would refuse. */
  readonly onSkipped?: (server: string, tool: string) => void;
  /** Told when a server cannot be listed. */
  readonly onListFailed?: (server: string, reason: string) => void;
}

interface Server {
  readonly spec: McpServerSpec;
  readonly link: ServerLink;
  readonly scrub: Scrubber;
  listing?: { tools: Tool[]; at: number };
  /** Why the last listing failed, while there is no listing. */
  failure?: string;
  pending?: Promise<Tool[]>;
}

export function createMcpTools(specs: readonly McpServerSpec[], options: McpToolsOptions = {}): McpTools {
  const servers = new Map<string, Server>();
  for (const spec of specs) {
    if (servers.has(spec.name)) throw new Error(`MCP server ${JSON.stringify(spec.name)} is defined twice`);
    const secrets = spec.credential ? [spec.credential.value(), spec.credential.secret()] : [];
    servers.set(spec.name, { spec, link: createServerLink(spec), scrub: createScrubber(secrets) });
  }
  const skipped = new Set<string>();
  const serves = (spec: McpServerSpec, tenant: string) => spec.tenants === undefined || spec.tenants.includes(tenant);

  const list = (server: Server, signal?: AbortSignal): Promise<Tool[]> => {
    // Concurrent StartSessions share one listing request.
    server.pending ??= server.link
      .listTools(signal)
      .then((tools) => {
        const listed = tools.flatMap((tool) => {
          const name = exposedName(server.spec.name, tool.name);
          if (name === undefined) {
            if (!skipped.has(`${server.spec.name}\n${tool.name}`)) options.onSkipped?.(server.spec.name, tool.name);
            skipped.add(`${server.spec.name}\n${tool.name}`);
            return [];
          }
          return [
            create(ToolSchema, {
              name,
              description: tool.description ?? tool.title ?? tool.name,
              inputSchemaJson: JSON.stringify(tool.inputSchema),
              // A hint from the server, honoured only where the operator says it can be trusted.
              idempotent: server.spec.trustIdempotentHint && tool.annotations?.idempotentHint === true,
              timeout: durationFromMs(server.spec.timeoutMs),
            }),
          ];
        });
        server.listing = { tools: listed, at: performance.now() };
        server.failure = undefined;
        return listed;
      })
      .finally(() => {
        server.pending = undefined;
      });
    return server.pending;
  };

  return {
    routes(name, tenant) {
      const parsed = parseExposedName(name);
      const server = parsed && servers.get(parsed.server);
      return server !== undefined && serves(server.spec, tenant);
    },
    async catalog(tenant, { fresh = false, signal } = {}) {
      const unavailable = new Map<string, string>();
      const mine = [...servers.values()].filter((s) => serves(s.spec, tenant));
      const listings = await Promise.all(
        mine.map(async (server) => {
          const cached = server.listing;
          if (cached && !fresh && performance.now() - cached.at < server.spec.listTtlMs) return cached.tools;
          try {
            return await list(server, signal);
          } catch (err) {
            const reason = server.scrub(describe(err));
            options.onListFailed?.(server.spec.name, reason);
            if (cached) return cached.tools;
            server.failure = reason;
            unavailable.set(server.spec.name, reason);
            return [];
          }
        }),
      );
      return { tools: listings.flat(), unavailable };
    },
    unavailable(tenant) {
      const failed = [...servers.values()].filter((s) => serves(s.spec, tenant) && s.failure !== undefined);
      return new Map(failed.map((s) => [s.spec.name, s.failure as string]));
    },
    async execute(call, signal) {
      const started = performance.now();
      const parsed = parseExposedName(call.name);
      const server = parsed && servers.get(parsed.server);
      // The same refusal for a server of another tenant as for none at all.
      if (!parsed || !server || !serves(server.spec, call.tenant)) {
        throw new Error(`${JSON.stringify(call.name)} is not an MCP tool`);
      }
      const { spec, scrub } = server;
      const outcome = (text: string, isError: boolean): ToolOutcome => {
        const bytes = Buffer.from(text);
        const truncated = bytes.length > spec.maxResultBytes;
        // Scrubbed before the marker goes on, so a secret cut by the cap is dropped as well.
        const output = truncated
          ? `${scrub(
              bytes
                .subarray(0, spec.maxResultBytes)
                .toString("utf8")
                .replace(/\uFFFD$/, ""),
              true,
            )}\n[result truncated at ${spec.maxResultBytes} bytes]`
          : scrub(text);
        return { output, isError, exitCode: isError ? 1 : 0, durationMs: performance.now() - started, truncated };
      };
      let args: unknown;
      try {
        args = call.inputJson === "" ? {} : JSON.parse(call.inputJson);
      } catch {
        args = undefined;
      }
      if (typeof args !== "object" || args === null || Array.isArray(args)) {
        return outcome(`error: the input of ${call.name} must be a JSON object`, true);
      }
      try {
        const result = await server.link.callTool(parsed.tool, args as Record<string, unknown>, signal);
        return outcome(resultText(result), result.isError === true);
      } catch (err) {
        if (signal?.aborted) throw new ToolAbortedError(`tool call ${call.toolUseId} cancelled`, { cause: err });
        return outcome(describeCallFailure(spec, call.name, err), true);
      }
    },
    async close() {
      await Promise.all([...servers.values()].map((s) => s.link.close()));
    },
  };
}
