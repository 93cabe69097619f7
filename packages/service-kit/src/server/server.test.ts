import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExecutorService, grpcHealthV1, grpcReflectionV1, ListToolsResponseSchema, SessionService } from "@reins/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthInterceptor, createTokenVerifier } from "../auth/index.js";
import { bindService, type ReinsServer, startServer } from "./server.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;

let server: ReinsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Partial<Parameters<typeof startServer>[0]> = {}) {
  server = await startServer({
    services: [
      bindService(ExecutorService, {
        listTools: () => create(ListToolsResponseSchema, { tools: [{ name: "bash" }] }),
      }),
    ],
    ...options,
  });
  return server;
}

describe("startServer", () => {
  it("serves gRPC, gRPC-Web and Connect on one port", async () => {
    const s = await start();
    const transports = [
      createGrpcTransport({ baseUrl: s.url }),
      createGrpcWebTransport({ baseUrl: s.url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "2" }),
    ];
    for (const transport of transports) {
      const res = await createClient(ExecutorService, transport).listTools({});
      expect(res.tools.map((t) => t.name)).toEqual(["bash"]);
    }
  });

  it("answers health checks for the server and each service", async () => {
    const s = await start();
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await health.check({ service: "reins.executor.v1.ExecutorService" })).status).toBe(Status.SERVING);
    await expect(health.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("streams health changes to watchers", async () => {
    const s = await start();
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    const abort = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      try {
        for await (const res of health.watch({ service: "" }, { signal: abort.signal })) {
          seen.push(res.status);
          if (res.status === Status.SERVING) s.health.set("", Status.NOT_SERVING);
          if (res.status === Status.NOT_SERVING) abort.abort();
        }
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Canceled) throw err;
      }
    })();
    await watching;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("answers server reflection with complete file descriptors", async () => {
    const s = await start();
    const reflection = createClient(grpcReflectionV1.ServerReflection, createGrpcTransport({ baseUrl: s.url }));
    async function* requests() {
      yield create(grpcReflectionV1.ServerReflectionRequestSchema, {
        messageRequest: { case: "listServices", value: "" },
      });
      yield create(grpcReflectionV1.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "reins.executor.v1.ExecutorService" },
      });
      yield create(grpcReflectionV1.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "no.Such" },
      });
    }
    const answers = [];
    for await (const res of reflection.serverReflectionInfo(requests())) answers.push(res.messageResponse);
    expect(answers[0]?.case).toBe("listServicesResponse");
    expect(answers[0]?.case === "listServicesResponse" && answers[0].value.service.map((s) => s.name)).toEqual([
      "reins.executor.v1.ExecutorService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    expect(answers[1]?.case).toBe("fileDescriptorResponse");
    // executor.proto plus google/protobuf/duration.proto, dependencies first.
    expect(answers[1]?.case === "fileDescriptorResponse" && answers[1].value.fileDescriptorProto.length).toBe(2);
    expect(answers[2]?.case).toBe("errorResponse");
  });

  it("rejects calls without a valid bearer token but keeps health public", async () => {
    const verify = createTokenVerifier([{ token: "s3cret", role: "harness", tenant: "" }]);
    const s = await start({ interceptors: [createAuthInterceptor({ verify, roles: ["harness"] })] });
    const transport = createGrpcTransport({ baseUrl: s.url });
    const executor = createClient(ExecutorService, transport);
    await expect(executor.listTools({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(executor.listTools({}, { headers: { authorization: "Bearer wrong" } })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    const ok = await executor.listTools({}, { headers: { authorization: "Bearer s3cret" } });
    expect(ok.tools).toHaveLength(1);
    const health = createClient(Health, transport);
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
  });

  it("does not let protocol headers of an upstream error leak into its own error response", async () => {
    // What a ConnectError caught from a gRPC call to another service carries as metadata.
    const upstream = () =>
      new ConnectError('session "x" not found', Code.NotFound, {
        "content-type": "application/grpc+proto",
        "grpc-status": "5",
        "grpc-message": "session%20%22x%22%20not%20found",
        "grpc-encoding": "gzip",
        "x-reins-hint": "kept",
      });
    server = await startServer({
      services: [
        bindService(ExecutorService, {
          listTools: () => {
            throw upstream();
          },
        }),
        bindService(SessionService, {
          // biome-ignore lint/correctness/useYield: the stream fails before its first message
          async *streamEvents() {
            throw upstream();
          },
        }),
      ],
    });
    const transports = [
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: false }),
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: server.url }),
    ];
    for (const transport of transports) {
      const unary = await createClient(ExecutorService, transport)
        .listTools({})
        .catch((err: unknown) => ConnectError.from(err));
      const stream = await (async () => {
        for await (const _ of createClient(SessionService, transport).streamEvents({ sessionId: "x" })) {
          // never reached
        }
      })().catch((err: unknown) => ConnectError.from(err));
      for (const err of [unary, stream]) {
        expect(err).toBeInstanceOf(ConnectError);
        expect(err).toMatchObject({ code: Code.NotFound, rawMessage: 'session "x" not found' });
        expect((err as ConnectError).metadata.get("x-reins-hint")).toBe("kept");
      }
    }
  });
});
