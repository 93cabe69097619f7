import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorInfoSchema, ExecutorRegistryService, grpcHealthV1, SessionService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

// Spawns the built daemon (apps/session/dist/main.js): build it first.

const operatorToken = "operator-0123456789abcdef";
const registrationToken = "register-exec-1-0123456789";
const grants = JSON.stringify([
  { token: operatorToken, role: "operator" },
  { token: "harness-0123456789abcdef", role: "harness" },
]);
const registrations = JSON.stringify([{ executor: "exec-1", token: registrationToken }]);

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: unknown) => Code[ConnectError.from(e).code],
  );

describe("session daemon: executor registry", () => {
  it("serves ExecutorRegistryService on its port, registration by token, with the configured TTL", async () => {
    await using nats = await startNatsServer();
    await using daemon = await startDaemon({
      app: "session",
      env: {
        REINS_SESSION_LISTEN: "127.0.0.1:0",
        REINS_NATS_URL: nats.url,
        REINS_SESSION_TOKENS: grants,
        REINS_EXECUTOR_REGISTRATION_TOKENS: registrations,
        REINS_EXECUTOR_TTL_MS: "6000",
      },
    });
    const client = (token: string) =>
      createClient(
        ExecutorRegistryService,
        createGrpcTransport({ baseUrl: daemon.url, interceptors: [createBearerInterceptor(token)] }),
      );
    const executor = create(ExecutorInfoSchema, {
      id: "exec-1",
      address: "http://127.0.0.1:7003",
      incarnation: "inc-1",
      tools: ["bash"],
      capacity: 2,
    });
    const res = await client(registrationToken).heartbeat({ executor });
    expect(Number(res.ttl?.seconds)).toBe(6);
    expect(Number(res.heartbeatInterval?.seconds)).toBe(2);
    const listed = await client(operatorToken).listExecutors({});
    expect(listed.executors.map((e) => [e.id, e.address, e.capacity])).toEqual([
      ["exec-1", "http://127.0.0.1:7003", 2],
    ]);

    // The registration token is for the registry alone, and for its own id alone.
    expect(await codeOf(client(registrationToken).heartbeat({ executor: { ...executor, id: "exec-2" } }))).toBe(
      "PermissionDenied",
    );
    const sessions = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: daemon.url, interceptors: [createBearerInterceptor(registrationToken)] }),
    );
    expect(await codeOf(sessions.listSessions({}))).toBe("PermissionDenied");
    expect(await codeOf(client("harness-0123456789abcdef").drainExecutor({ id: "exec-1", draining: true }))).toBe(
      "PermissionDenied",
    );

    const health = createClient(grpcHealthV1.Health, createGrpcTransport({ baseUrl: daemon.url }));
    expect((await health.check({ service: ExecutorRegistryService.typeName })).status).toBe(
      grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING,
    );
  });

  it("refuses registration tokens without service tokens, and tokens that are both", async () => {
    await expect(loadConfig({ REINS_EXECUTOR_REGISTRATION_TOKENS: registrations })).rejects.toThrow(
      /registration tokens need authentication on/,
    );
    await expect(
      loadConfig({
        REINS_SESSION_TOKENS: JSON.stringify([{ token: registrationToken, role: "operator" }]),
        REINS_EXECUTOR_REGISTRATION_TOKENS: registrations,
      }),
    ).rejects.toThrow(/entry 0: its token is also a service token/);
    await expect(loadConfig({ REINS_EXECUTOR_TTL_MS: "10" })).rejects.toThrow(/REINS_EXECUTOR_TTL_MS="10" is invalid/);
  });
});
