import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { type ExecutorInfo, ExecutorInfoSchema, ExecutorRegistryService } from "@reins/proto";
import { createAuthInterceptor, createBearerInterceptor, createTokenVerifier } from "@reins/service-kit";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { connect, type KV, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import { startStore } from "../testing/fixtures.js";
import { createExecutorRegistry } from "./registry.js";
import { createExecutorRegistryServiceImpl, executorRegistryPolicy } from "./service.js";

let nats: NatsServer;
let store: SessionStore;
let nc: NatsConnection;
let bucket: KV;
const ttlMs = 1_000;
beforeAll(async () => {
  nats = await startNatsServer();
  store = await startStore(nats.url, { executorTtlMs: ttlMs, executorHeartbeatIntervalMs: 300 });
  // The store's bucket, on a connection of the test's own (another replica, say).
  nc = await connect({ servers: nats.url });
  bucket = await nc.jetstream().views.kv(store.names.executorsBucket, { bindOnly: true });
});
afterAll(async () => {
  await nc?.close();
  await store?.close();
  await nats?.stop();
});

const grants = [
  { token: "harness-0123456789", role: "harness", tenant: "" },
  { token: "operator-0123456789", role: "operator", tenant: "" },
  { token: "client-0123456789ab", role: "client", tenant: "" },
  { token: "register-a-0123456789", role: "executor", tenant: "", executorId: "auth-a" },
  { token: "register-b-0123456789", role: "executor", tenant: "", executorId: "auth-b" },
];

/** The real handlers, in-process; with a token, behind the real auth interceptor. */
function registry(token?: string) {
  const interceptors: Interceptor[] =
    token === undefined
      ? []
      : [
          createBearerInterceptor(token),
          createAuthInterceptor({ verify: createTokenVerifier(grants), methods: executorRegistryPolicy }),
        ];
  return createClient(
    ExecutorRegistryService,
    createRouterTransport(
      ({ service }) => service(ExecutorRegistryService, createExecutorRegistryServiceImpl(store.executors)),
      { router: { interceptors } },
    ),
  );
}

const executor = (id: string, more: MessageInitShape<typeof ExecutorInfoSchema> = {}): ExecutorInfo =>
  create(ExecutorInfoSchema, {
    id,
    address: "http://127.0.0.1:7003",
    incarnation: `inc-${id}-1`,
    catalogDigest: "a".repeat(64),
    tools: ["bash", "read_file"],
    runtimes: ["runc"],
    labels: { region: "eu" },
    capacity: 4,
    ...more,
  });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: "OK", message: "succeeded" }),
    (e: unknown) => ({ code: Code[ConnectError.from(e).code], message: ConnectError.from(e).rawMessage }),
  );

const millis = (info: ExecutorInfo | undefined, field: "heartbeatTime" | "registeredTime") => {
  const t = info?.[field];
  return t ? timestampDate(t).getTime() : 0;
};

/** Polls `check` until it holds or the deadline passes: expiry is JetStream's timer, not an event. */
async function eventually(check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("executor registry", () => {
  it("registers, renews and lists by selector, tools and draining", async () => {
    const c = registry();
    const first = await c.heartbeat({ executor: executor("list-a", { labels: { region: "eu", gpu: "true" } }) });
    expect(Number(first.ttl?.seconds) * 1000 + (first.ttl?.nanos ?? 0) / 1e6).toBe(ttlMs);
    expect(Number(first.heartbeatInterval?.nanos) / 1e6).toBe(300);
    expect(first.draining).toBe(false);
    await c.heartbeat({ executor: executor("list-b", { labels: { region: "us" }, tools: ["bash"] }) });
    await c.heartbeat({ executor: executor("list-c", { runningCalls: 3, queuedCalls: 7 }) });
    await c.drainExecutor({ id: "list-c", draining: true });

    const ids = async (req: Parameters<typeof c.listExecutors>[0]) =>
      (await c.listExecutors(req)).executors.map((e) => e.id).filter((id) => id.startsWith("list-"));
    expect(await ids({})).toEqual(["list-a", "list-b", "list-c"]);
    expect(await ids({ selector: { region: "eu" } })).toEqual(["list-a", "list-c"]);
    expect(await ids({ selector: { region: "eu", gpu: "true" } })).toEqual(["list-a"]);
    expect(await ids({ tools: ["read_file"] })).toEqual(["list-a", "list-c"]);
    expect(await ids({ tools: ["bash", "nope"] })).toEqual([]);
    expect(await ids({ excludeDraining: true })).toEqual(["list-a", "list-b"]);
    const { executor: c3 } = await c.getExecutor({ id: "list-c" });
    expect(c3).toMatchObject({ runningCalls: 3, queuedCalls: 7, capacity: 4, draining: true, runtimes: ["runc"] });

    // A renewal keeps registered_time and moves heartbeat_time on.
    const before = (await c.getExecutor({ id: "list-a" })).executor;
    await eventually(async () => {
      await c.heartbeat({ executor: executor("list-a") });
      return (
        millis((await c.getExecutor({ id: "list-a" })).executor, "heartbeatTime") > millis(before, "heartbeatTime")
      );
    });
    const after = (await c.getExecutor({ id: "list-a" })).executor;
    expect(millis(after, "registeredTime")).toBe(millis(before, "registeredTime"));
    expect(after?.labels).toEqual({ region: "eu" });
  });

  it("keeps an executor that heartbeats past its TTL, and drops it once the heartbeats stop", async () => {
    const c = registry();
    const started = Date.now();
    // Three TTLs of heartbeats at the interval: always listed.
    while (Date.now() - started < 3 * ttlMs) {
      await c.heartbeat({ executor: executor("ttl-a") });
      expect((await c.getExecutor({ id: "ttl-a" })).executor?.id).toBe("ttl-a");
      await new Promise((r) => setTimeout(r, 300));
    }
    await eventually(async () => (await failure(c.getExecutor({ id: "ttl-a" }))).code === "NotFound");
    expect((await c.listExecutors({})).executors.map((e) => e.id)).not.toContain("ttl-a");
    expect((await failure(c.drainExecutor({ id: "ttl-a", draining: true }))).code).toBe("NotFound");
    // Gone from the bucket too, not only hidden.
    await eventually(async () => (await bucket.get("ttl-a")) === null);
  });

  it("never returns an entry past its TTL, even while the bucket still holds it", async () => {
    let clock = Date.now();
    const kv = bucket;
    const reg = await createExecutorRegistry(
      kv,
      { ttlMs: 60_000, heartbeatIntervalMs: 20_000, now: () => clock },
      () => {},
    );
    try {
      await reg.heartbeat(executor("clock-a", { heartbeatTime: undefined }));
      expect((await reg.list()).map((e) => e.id)).toContain("clock-a");
      // A drain is a put, which renews the bucket's max_age, but not a heartbeat.
      await reg.drain("clock-a", true);
      clock += 60_001;
      expect(await kv.get("clock-a")).not.toBeNull();
      expect((await reg.list()).map((e) => e.id)).not.toContain("clock-a");
      await expect(reg.get("clock-a")).rejects.toMatchObject({ name: "ExecutorNotFoundError" });
      // Registering again after expiry starts a fresh entry: not draining, new registered_time.
      const again = await reg.heartbeat(executor("clock-a"));
      expect(again.draining).toBe(false);
      expect(millis(again, "registeredTime")).toBe(clock);
    } finally {
      reg.stop();
      await kv.delete("clock-a");
    }
  });

  it("replaces an entry with a new incarnation, keeping the drain", async () => {
    const c = registry();
    await c.heartbeat({ executor: executor("inc-a", { incarnation: "one" }) });
    const one = (await c.getExecutor({ id: "inc-a" })).executor;
    await c.drainExecutor({ id: "inc-a", draining: true });
    await eventually(async () => Date.now() > millis(one, "registeredTime"));
    const res = await c.heartbeat({
      executor: executor("inc-a", { incarnation: "two", address: "http://127.0.0.1:7100" }),
    });
    expect(res.draining).toBe(true);
    const two = (await c.getExecutor({ id: "inc-a" })).executor;
    expect(two).toMatchObject({ incarnation: "two", address: "http://127.0.0.1:7100", draining: true });
    expect(millis(two, "registeredTime")).toBeGreaterThan(millis(one, "registeredTime"));
    // The old process's late Deregister is a no-op; the new one's removes the entry.
    expect((await c.deregister({ id: "inc-a", incarnation: "one" })).removed).toBe(false);
    expect((await c.getExecutor({ id: "inc-a" })).executor?.incarnation).toBe("two");
    expect((await c.deregister({ id: "inc-a", incarnation: "two" })).removed).toBe(true);
    expect((await failure(c.getExecutor({ id: "inc-a" }))).code).toBe("NotFound");
    expect((await c.listExecutors({})).executors.map((e) => e.id)).not.toContain("inc-a");
    expect((await c.deregister({ id: "inc-a", incarnation: "two" })).removed).toBe(false);
    expect((await c.deregister({ id: "never-there", incarnation: "x" })).removed).toBe(false);
  });

  it("keeps a drain through heartbeats, also one that raced it, and takes it back on undrain", async () => {
    const c = registry();
    await c.heartbeat({ executor: executor("drain-a") });
    const drained = await c.drainExecutor({ id: "drain-a", draining: true });
    expect(drained.executor).toMatchObject({ id: "drain-a", draining: true });
    expect((await c.heartbeat({ executor: executor("drain-a") })).draining).toBe(true);

    // The race: a heartbeat reads the entry, a drain on another replica lands,
    // then the heartbeat writes. It must lose the compare-and-set and re-read.
    await c.drainExecutor({ id: "drain-a", draining: false });
    const kv = bucket;
    const other = await createExecutorRegistry(kv, { ttlMs, heartbeatIntervalMs: 300 }, () => {});
    let raced = 0;
    const racing = new Proxy(kv, {
      get(target, prop, receiver) {
        if (prop === "update") {
          return async (k: string, data: Uint8Array, version: number) => {
            if (raced++ === 0) await other.drain(k, true);
            return target.update(k, data, version);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as KV;
    const racer = await createExecutorRegistry(racing, { ttlMs, heartbeatIntervalMs: 300 }, () => {});
    try {
      const stored = await racer.heartbeat(executor("drain-a", { runningCalls: 2 }));
      expect(raced).toBe(2);
      expect(stored).toMatchObject({ draining: true, runningCalls: 2 });
      expect((await c.getExecutor({ id: "drain-a" })).executor).toMatchObject({ draining: true, runningCalls: 2 });
    } finally {
      racer.stop();
      other.stop();
    }
    const undrained = await c.drainExecutor({ id: "drain-a", draining: false });
    expect(undrained.executor?.draining).toBe(false);
    expect((await c.heartbeat({ executor: executor("drain-a") })).draining).toBe(false);
    expect((await failure(c.drainExecutor({ id: "no-such", draining: true }))).code).toBe("NotFound");
  });

  it("refuses bad input with INVALID_ARGUMENT saying what is wrong", async () => {
    const c = registry();
    const refusal = async (more: MessageInitShape<typeof ExecutorInfoSchema>) => {
      const r = await failure(c.heartbeat({ executor: executor("bad-a", more) }));
      expect(r.code).toBe("InvalidArgument");
      return r.message;
    };
    expect((await failure(c.heartbeat({}))).message).toBe("executor is required");
    expect(await refusal({ id: "a.b" })).toMatch(/^executor.id "a.b" is invalid/);
    expect(await refusal({ id: "x".repeat(65) })).toMatch(/^executor.id .* is invalid/);
    expect(await refusal({ address: "" })).toMatch(/executor.address is required/);
    expect(await refusal({ address: "127.0.0.1:7003" })).toMatch(/not an http\(s\) URL|not a URL/);
    expect(await refusal({ address: "ftp://host:21" })).toMatch(/"ftp:\/\/host:21" is not an http\(s\) URL/);
    expect(await refusal({ address: "http://u:p@host:1" })).toMatch(/must not carry credentials/);
    expect(await refusal({ address: `http://h/${"x".repeat(3000)}` })).toMatch(/longer than 2048/);
    expect(await refusal({ incarnation: "" })).toMatch(/executor.incarnation is required/);
    expect(await refusal({ catalogDigest: "ABC" })).toMatch(/catalog_digest "ABC" is not a SHA-256/);
    expect(await refusal({ tools: ["ok", "has space"] })).toMatch(/executor.tools\[1\] "has space" is not a tool name/);
    expect(await refusal({ tools: ["a", "a"] })).toMatch(/listed twice/);
    expect(await refusal({ tools: Array.from({ length: 513 }, (_, i) => `t${i}`) })).toMatch(
      /513 tools, over the maximum of 512/,
    );
    expect(await refusal({ runtimes: ["run c"] })).toMatch(/executor.runtimes\[0\]/);
    expect(await refusal({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) })).toMatch(
      /65 labels, over the maximum of 64/,
    );
    expect(await refusal({ labels: { "bad key": "v" } })).toMatch(/executor.labels key "bad key" is invalid/);
    expect(await refusal({ labels: { k: "v".repeat(257) } })).toMatch(/longer than 256/);
    expect(await refusal({ capacity: 0 })).toMatch(/executor.capacity 0 is invalid/);
    expect(await refusal({ runningCalls: 5 })).toMatch(/running_calls 5 is over its capacity of 4/);
    expect((await failure(c.listExecutors({ tools: ["x y"] }))).message).toMatch(
      /^tools\[0\] "x y" is not a tool name/,
    );
    expect((await failure(c.listExecutors({ selector: { "": "v" } }))).message).toMatch(/^selector key "" is invalid/);
    expect((await failure(c.getExecutor({ id: "" }))).message).toBe("id is required");
    expect((await failure(c.drainExecutor({ id: "a>b" }))).code).toBe("InvalidArgument");
    expect((await failure(c.deregister({ id: "bad-a", incarnation: "" }))).message).toBe("incarnation is required");
    expect((await c.listExecutors({})).executors.map((e) => e.id)).not.toContain("bad-a");
  });
});

describe("executor registry authorisation", () => {
  it("binds a registration token to its executor id and gives listing and draining to service roles", async () => {
    const a = registry("register-a-0123456789");
    const b = registry("register-b-0123456789");
    const operator = registry("operator-0123456789");
    const harness = registry("harness-0123456789");
    await a.heartbeat({ executor: executor("auth-a") });
    const original = (await operator.getExecutor({ id: "auth-a" })).executor;

    // b's token cannot take over a's id, nor deregister it.
    const takeover = await failure(
      b.heartbeat({ executor: executor("auth-a", { address: "http://127.0.0.1:9999", incarnation: "evil" }) }),
    );
    expect(takeover).toEqual({
      code: "PermissionDenied",
      message: 'this registration token is bound to executor "auth-b", not "auth-a"',
    });
    expect((await failure(b.deregister({ id: "auth-a", incarnation: original?.incarnation ?? "" }))).code).toBe(
      "PermissionDenied",
    );
    expect((await operator.getExecutor({ id: "auth-a" })).executor).toEqual(original);

    expect((await failure(registry("unknown-token-0123456789").heartbeat({ executor: executor("auth-a") }))).code).toBe(
      "Unauthenticated",
    );
    const anonymous = createClient(
      ExecutorRegistryService,
      createRouterTransport(
        ({ service }) => service(ExecutorRegistryService, createExecutorRegistryServiceImpl(store.executors)),
        {
          router: {
            interceptors: [
              createAuthInterceptor({ verify: createTokenVerifier(grants), methods: executorRegistryPolicy }),
            ],
          },
        },
      ),
    );
    expect((await failure(anonymous.heartbeat({ executor: executor("auth-a") }))).code).toBe("Unauthenticated");
    // Service tokens cannot register anything.
    expect((await failure(operator.heartbeat({ executor: executor("auth-a") }))).code).toBe("PermissionDenied");

    // Listing: harness and operator; not clients, not registration tokens.
    expect((await harness.listExecutors({})).executors.map((e) => e.id)).toContain("auth-a");
    expect((await harness.getExecutor({ id: "auth-a" })).executor?.id).toBe("auth-a");
    expect((await failure(registry("client-0123456789ab").listExecutors({}))).code).toBe("PermissionDenied");
    expect((await failure(a.listExecutors({}))).code).toBe("PermissionDenied");

    // Draining: operator only.
    expect((await failure(harness.drainExecutor({ id: "auth-a", draining: true }))).code).toBe("PermissionDenied");
    expect((await failure(a.drainExecutor({ id: "auth-a", draining: false }))).code).toBe("PermissionDenied");
    expect((await operator.getExecutor({ id: "auth-a" })).executor?.draining).toBe(false);
    expect((await operator.drainExecutor({ id: "auth-a", draining: true })).executor?.draining).toBe(true);

    expect((await a.deregister({ id: "auth-a", incarnation: original?.incarnation ?? "" })).removed).toBe(true);
  });
});
