import { randomBytes } from "node:crypto";
import path from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ExecutorInfo, ExecutorRegistryService, ExecutorService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import {
  connectDocker,
  createTestCertificates,
  dockerCleanup,
  freePort,
  resolveDockerHost,
  startDaemon,
  startNatsServer,
  testImage,
} from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Real session daemon (the registry) on a real nats-server, and real executor
// processes on the shared Docker engine. Spawns apps/session/dist and
// apps/executor/dist: build them first.

const docker = connectDocker();
const operatorToken = `operator-${randomBytes(12).toString("hex")}`;
const harnessToken = `harness-${randomBytes(12).toString("hex")}`;
const suffix = randomBytes(3).toString("hex");
// Each executor id with its own registration token, as the registry holds them.
const ids = {
  a: `reg-a-${suffix}`,
  b: `reg-b-${suffix}`,
  c: `reg-c-${suffix}`,
  d: `reg-d-${suffix}`,
  e: `reg-e-${suffix}`,
};
const registrationTokens = Object.fromEntries(
  Object.values(ids).map((id) => [id, `register-${id}-${randomBytes(12).toString("hex")}`]),
);
const ttlMs = 3_000;

let stop: (() => Promise<void>) | undefined;
let registryUrl = "";
let natsUrl = "";

/** The session daemon's registry settings, with the tokens above. */
const sessionEnv = (listen: string) => ({
  REINS_SESSION_LISTEN: listen,
  REINS_NATS_URL: natsUrl,
  REINS_SESSION_TOKENS: JSON.stringify([
    { token: operatorToken, role: "operator" },
    { token: harnessToken, role: "harness" },
  ]),
  REINS_EXECUTOR_REGISTRATION_TOKENS: JSON.stringify(
    Object.entries(registrationTokens).map(([executor, token]) => ({ executor, token })),
  ),
  REINS_EXECUTOR_TTL_MS: String(ttlMs),
  REINS_EXECUTOR_HEARTBEAT_INTERVAL_MS: "200",
});

beforeAll(async () => {
  const nats = await startNatsServer();
  natsUrl = nats.url;
  const session = await startDaemon({ app: "session", env: sessionEnv("127.0.0.1:0") });
  registryUrl = session.url;
  stop = async () => {
    await session.kill("SIGTERM");
    await nats[Symbol.asyncDispose]();
  };
}, 60_000);

afterAll(async () => {
  await stop?.();
});

const registry = (baseUrl = registryUrl) =>
  createClient(
    ExecutorRegistryService,
    createGrpcTransport({ baseUrl, interceptors: [createBearerInterceptor(operatorToken)] }),
  );

/** An executor process registering as `id` with `token`; disposed with its containers. */
async function startExecutor(id: string, token: string | undefined, env: Record<string, string> = {}) {
  const callToken = randomBytes(16).toString("hex");
  const cleanup = dockerCleanup(docker, `reins.executor=${id}`);
  try {
    const daemon = await startDaemon({
      app: "executor",
      env: {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: callToken,
        REINS_EXECUTOR_ID: id,
        REINS_EXECUTOR_REGISTRY_URL: env.REINS_EXECUTOR_REGISTRY_URL ?? registryUrl,
        ...(token ? { REINS_EXECUTOR_REGISTRATION_TOKEN: token } : {}),
        REINS_EXECUTOR_POOL_SIZE: "0",
        REINS_SANDBOX_IMAGE: testImage(),
        DOCKER_HOST: resolveDockerHost(),
        ...env,
      },
    });
    const calls = createClient(
      ExecutorService,
      createGrpcTransport({ baseUrl: daemon.url, interceptors: [createBearerInterceptor(callToken)] }),
    );
    return {
      daemon,
      calls,
      async [Symbol.asyncDispose]() {
        await daemon.kill("SIGTERM");
        await cleanup[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    await cleanup[Symbol.asyncDispose]();
    throw err;
  }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: unknown) => Code[ConnectError.from(e).code],
  );

const poll = { timeout: 20_000, interval: 50 };
const heartbeatMs = (e: ExecutorInfo | undefined) => (e?.heartbeatTime ? timestampMs(e.heartbeatTime) : 0);

describe("executor self-registration", () => {
  it("lists itself with its load, heartbeats, reports a running call, keeps finishing it when drained, deregisters on SIGTERM", async () => {
    await using x = await startExecutor(ids.a, registrationTokens[ids.a], {
      REINS_EXECUTOR_MAX_CONCURRENT: "3",
      REINS_EXECUTOR_LABELS: "zone=eu-1, gpu=false",
    });
    // Registered before it announced itself: listed at once.
    const { executors } = await registry().listExecutors({});
    const entry = executors.find((e) => e.id === ids.a);
    expect(entry).toMatchObject({
      address: x.daemon.url,
      capacity: 3,
      runningCalls: 0,
      queuedCalls: 0,
      draining: false,
      tools: ["bash", "python", "read_file", "write_file", "list_files"],
      labels: { zone: "eu-1", gpu: "false" },
    });
    expect(entry?.catalogDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(entry?.runtimes).toContain("runc");
    expect(entry?.incarnation).not.toBe("");
    const firstBeat = heartbeatMs(entry);
    expect(firstBeat).toBeGreaterThan(0);

    // Heartbeats renew the entry.
    await vi.waitFor(async () => {
      const { executor } = await registry().getExecutor({ id: ids.a });
      expect(heartbeatMs(executor)).toBeGreaterThan(firstBeat);
    }, poll);

    // A call in progress is in its load.
    const call = x.calls.execute({
      name: "bash",
      sessionId: `s-${suffix}`,
      inputJson: JSON.stringify({ command: "sleep 4; echo finished" }),
    });
    await vi.waitFor(async () => {
      const { executor } = await registry().getExecutor({ id: ids.a });
      expect(executor?.runningCalls).toBe(1);
    }, poll);

    // Drained: the list says so, the executor hears it, and the call still finishes.
    const drained = await registry().drainExecutor({ id: ids.a, draining: true });
    expect(drained.executor?.draining).toBe(true);
    await vi.waitFor(() => expect(x.daemon.output.join("\n")).toContain("drained by an operator"), poll);
    const placeable = await registry().listExecutors({ excludeDraining: true });
    expect(placeable.executors.map((e) => e.id)).not.toContain(ids.a);
    const result = await call;
    expect(result.isError).toBe(false);
    expect(result.stdout).toBe("finished\n");
    await vi.waitFor(async () => {
      const { executor } = await registry().getExecutor({ id: ids.a });
      // Heartbeats report the call's end and leave the drain alone.
      expect([executor?.runningCalls, executor?.draining]).toEqual([0, true]);
    }, poll);

    // Taken back: the executor hears that too.
    expect((await registry().drainExecutor({ id: ids.a, draining: false })).executor?.draining).toBe(false);
    await vi.waitFor(() => expect(x.daemon.output.join("\n")).toContain("no longer draining"), poll);

    // SIGTERM: out of the registry at once, not at the end of the TTL.
    await x.daemon.kill("SIGTERM");
    expect(x.daemon.output.some((l) => l.includes('"removed":true') && l.includes("deregistered"))).toBe(true);
    expect(await codeOf(registry().getExecutor({ id: ids.a }))).toBe("NotFound");
    expect(x.daemon.output.join("\n")).not.toContain(registrationTokens[ids.a]);
  });

  it("after SIGKILL stays listed until its TTL runs out", async () => {
    await using x = await startExecutor(ids.b, registrationTokens[ids.b]);
    await x.daemon.kill("SIGKILL");
    expect((await registry().getExecutor({ id: ids.b })).executor?.id).toBe(ids.b);
    await vi.waitFor(async () => expect(await codeOf(registry().getExecutor({ id: ids.b }))).toBe("NotFound"), {
      timeout: ttlMs * 5,
      interval: 100,
    });
  });

  it("refuses to start with an unknown token or another executor's token, and leaves that executor's entry alone", async () => {
    await using owner = await startExecutor(ids.c, registrationTokens[ids.c]);
    const before = (await registry().getExecutor({ id: ids.c })).executor;

    // The token of executor a, presented for c: it cannot take c over.
    const takeover = await startExecutor(ids.c, registrationTokens[ids.a]).then(
      () => "started",
      (err: Error) => err.message,
    );
    expect(takeover).toContain("exited before listening");
    expect(takeover).toMatch(/invalid configuration: the registry refused executor .*\(PermissionDenied\)/);
    // The log line is JSON: the message's quotes are escaped.
    expect(takeover).toContain(`bound to executor \\"${ids.a}\\", not \\"${ids.c}\\"`);

    const unknown = await startExecutor(ids.c, `unknown-${randomBytes(12).toString("hex")}`).then(
      () => "started",
      (err: Error) => err.message,
    );
    expect(unknown).toMatch(/the registry refused executor .*\(Unauthenticated\)/);

    // Neither attempt touched the owner's entry, which still heartbeats.
    const after = (await registry().getExecutor({ id: ids.c })).executor;
    expect([after?.incarnation, after?.address]).toEqual([before?.incarnation, owner.daemon.url]);
  });

  it("serves calls while the registry is unreachable, and registers once it answers", async () => {
    const port = await freePort();
    const laterUrl = `http://127.0.0.1:${port}`;
    await using x = await startExecutor(ids.d, registrationTokens[ids.d], { REINS_EXECUTOR_REGISTRY_URL: laterUrl });
    expect(x.daemon.output.join("\n")).toContain("cannot reach the registry: serving calls");
    expect((await x.calls.listTools({})).tools.length).toBeGreaterThan(0);

    await using later = await startDaemon({ app: "session", env: sessionEnv(`127.0.0.1:${port}`) });
    await vi.waitFor(async () => {
      const { executor } = await registry(later.url).getExecutor({ id: ids.d });
      expect(executor?.address).toBe(x.daemon.url);
    }, poll);
    // Logged once the answer is back, which may be just after the entry is visible.
    await vi.waitFor(() => expect(x.daemon.output.join("\n")).toContain("registry reached again"), poll);
  });

  it("registers with an mTLS registry through REINS_EXECUTOR_REGISTRY_CA and a client certificate", async () => {
    await using certs = await createTestCertificates();
    await using tlsRegistry = await startDaemon({
      app: "session",
      env: {
        ...sessionEnv("127.0.0.1:0"),
        REINS_SESSION_TLS_CERT: certs.serverCertPath,
        REINS_SESSION_TLS_KEY: certs.serverKeyPath,
        REINS_SESSION_TLS_CLIENT_CA: certs.caPath,
      },
    });
    expect(tlsRegistry.url).toMatch(/^https:/);
    const tlsClient = createClient(
      ExecutorRegistryService,
      createGrpcTransport({
        baseUrl: tlsRegistry.url,
        nodeOptions: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
        interceptors: [createBearerInterceptor(operatorToken)],
      }),
    );
    await using x = await startExecutor(ids.e, registrationTokens[ids.e], {
      REINS_EXECUTOR_REGISTRY_URL: tlsRegistry.url,
      REINS_EXECUTOR_REGISTRY_CA: certs.caPath,
      REINS_EXECUTOR_REGISTRY_CLIENT_CERT: path.join(certs.dir, "client.pem"),
      REINS_EXECUTOR_REGISTRY_CLIENT_KEY: path.join(certs.dir, "client.key"),
    });
    // Without the CA (or the client certificate) the handshake fails and it never registers.
    await vi.waitFor(
      async () => expect((await tlsClient.getExecutor({ id: ids.e })).executor?.address).toBe(x.daemon.url),
      poll,
    );
  });
});
