import { type DescService, fromJson, type JsonObject, toJson } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService, HarnessService, SessionService } from "@reins/proto";
import { expect } from "vitest";
import { createGrpcJsClient, grpcJsCall, grpcTarget } from "./grpc-js-client.js";
import { connectOutcome, type Outcome } from "./outcome.js";
import type { PythonClient } from "./python-client.js";
import type { WireStack } from "./wire-stack.js";

export type ClientName = "connect" | "grpc-js" | "python";
export const clientNames: readonly ClientName[] = ["connect", "grpc-js", "python"];

/** One RPC of one daemon that every client must see answered the same way. */
export interface Probe {
  readonly daemon: "session" | "executor" | "harness";
  readonly service: DescService;
  readonly method: string;
  /**
   * The request as proto3 JSON, made fresh for each call (`client` names the caller). It may
   * first set up what the call needs, through Connect.
   */
  request(stack: WireStack, client: ClientName): Promise<JsonObject>;
  check(outcome: Outcome, request: JsonObject): void;
}

let sessions = 0;
/** A session id no other call in this run uses. */
const freshSessionId = (client: ClientName) => `wire-${client}-${process.pid}-${++sessions}`;

export const probes: readonly Probe[] = [
  {
    daemon: "session",
    service: SessionService,
    method: "CreateSession",
    request: async (_stack, client) => ({
      sessionId: freshSessionId(client),
      title: `created by ${client}`,
      config: { model: "claude-sonnet-4-5", systemPrompt: "Be brief.", tools: ["bash"] },
    }),
    check: (outcome, request) => {
      if (!outcome.ok) throw new Error(`CreateSession failed: ${outcome.code} ${outcome.message}`);
      expect(outcome.response).toMatchObject({
        session: { sessionId: request.sessionId, title: request.title, lastSeq: "1", model: "claude-sonnet-4-5" },
        event: { seq: "1", sessionCreated: { config: request.config } },
      });
    },
  },
  {
    daemon: "session",
    service: SessionService,
    method: "GetSession",
    request: async (stack, client) => {
      const sessionId = freshSessionId(client);
      await createClient(SessionService, createGrpcTransport({ baseUrl: stack.session.url })).createSession({
        sessionId,
        title: "to be read back",
        config: { model: "claude-sonnet-4-5" },
      });
      return { sessionId };
    },
    check: (outcome, request) => {
      if (!outcome.ok) throw new Error(`GetSession failed: ${outcome.code} ${outcome.message}`);
      expect(outcome.response).toMatchObject({
        session: { sessionId: request.sessionId, title: "to be read back", lastSeq: "1" },
      });
    },
  },
  {
    daemon: "session",
    service: SessionService,
    method: "GetLatestEvent",
    request: async (stack, client) => {
      const sessionId = freshSessionId(client);
      await createClient(SessionService, createGrpcTransport({ baseUrl: stack.session.url })).createSession({
        sessionId,
        title: "checkpointed",
        config: { model: "claude-sonnet-4-5" },
      });
      return { sessionId, type: "EVENT_TYPE_SESSION_CREATED" };
    },
    check: (outcome, request) => {
      if (!outcome.ok) throw new Error(`GetLatestEvent failed: ${outcome.code} ${outcome.message}`);
      expect(outcome.response).toMatchObject({
        lastSeq: "1",
        event: { seq: "1", sessionCreated: { title: "checkpointed", config: { model: "claude-sonnet-4-5" } } },
      });
      expect(request.type).toBe("EVENT_TYPE_SESSION_CREATED");
    },
  },
  {
    daemon: "executor",
    service: ExecutorService,
    method: "ListTools",
    request: async () => ({}),
    check: (outcome) => {
      if (!outcome.ok) throw new Error(`ListTools failed: ${outcome.code} ${outcome.message}`);
      const tools = (outcome.response.tools ?? []) as {
        name?: string;
        description?: string;
        inputSchemaJson?: string;
      }[];
      expect(tools.map((t) => t.name)).toContain("bash");
      for (const tool of tools) {
        expect(tool.description, `${tool.name} has a description`).toBeTruthy();
        expect(JSON.parse(tool.inputSchemaJson ?? "null"), `${tool.name} has an input schema`).toMatchObject({
          type: "object",
        });
      }
    },
  },
  {
    daemon: "harness",
    service: HarnessService,
    method: "Wake",
    // Waking a session the log does not have: the harness asks the session service, which
    // answers NOT_FOUND, and the harness passes that on.
    request: async (_stack, client) => ({ sessionId: freshSessionId(client) }),
    check: (outcome, request) =>
      expect(outcome).toEqual({ ok: false, code: "NOT_FOUND", message: `session "${request.sessionId}" not found` }),
  },
];

/** Where a probe's daemon listens and which headers its calls need. */
export function targetOf(stack: WireStack, probe: Probe): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> =
    probe.daemon === "executor" ? { authorization: `Bearer ${stack.executorToken}` } : {};
  return { url: stack[probe.daemon].url, headers };
}

type UntypedClient = Record<
  string,
  (request: unknown, options: { headers: Record<string, string> }) => Promise<unknown>
>;

/**
 * The probe's call through connect-node and the generated TypeScript, over gRPC unless
 * another transport (Connect, gRPC-Web) is given.
 */
export async function callWithConnect(
  stack: WireStack,
  probe: Probe,
  request: JsonObject,
  transport?: Transport,
): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const method = probe.service.methods.find((m) => m.name === probe.method);
  if (method?.methodKind !== "unary") throw new Error(`${probe.method} is not a unary method`);
  const rpc = createClient(
    probe.service,
    transport ?? createGrpcTransport({ baseUrl: url }),
  ) as unknown as UntypedClient;
  const call = rpc[method.localName];
  if (!call) throw new Error(`no ${method.localName} on the Connect client`);
  const input = fromJson(method.input, request);
  return connectOutcome(async () => {
    const response = await call(input, { headers });
    return toJson(method.output, response as never) as Record<string, unknown>;
  });
}

/** The probe's call through @grpc/grpc-js and @grpc/proto-loader. */
export async function callWithGrpcJs(stack: WireStack, probe: Probe, request: JsonObject): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const grpcClient = createGrpcJsClient(probe.service.typeName, grpcTarget(url));
  try {
    return await grpcJsCall(grpcClient, probe.method, request, headers);
  } finally {
    grpcClient.close();
  }
}

/** The probe's call through Python's grpcio and protoc-generated stubs. */
export async function callWithPython(
  python: PythonClient,
  stack: WireStack,
  probe: Probe,
  request: JsonObject,
): Promise<Outcome> {
  const { url, headers } = targetOf(stack, probe);
  const result = await python.run({
    target: grpcTarget(url),
    metadata: Object.entries(headers),
    health: [],
    calls: [{ service: probe.service.typeName, method: probe.method, request }],
  });
  const [outcome] = result.calls;
  if (!outcome) throw new Error("the Python client returned no outcome");
  return outcome;
}
