import { Code, ConnectError } from "@connectrpc/connect";
import { tenantHeader } from "@reins/service-kit";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import { clientWithToken, startStore, testConfig, userMessage } from "../testing/fixtures.js";

let nats: NatsServer;
let store: SessionStore;
beforeAll(async () => {
  nats = await startNatsServer();
  store = await startStore(nats.url);
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

const grants = [
  { token: "client-a-0123456789", role: "client", tenant: "a" },
  { token: "client-b-0123456789", role: "client", tenant: "b" },
  { token: "harness-0123456789", role: "harness", tenant: "" },
  { token: "operator-0123456789", role: "operator", tenant: "" },
  { token: "operator-ops-0123456789", role: "operator", tenant: "ops" },
];

// The real handlers behind the real auth interceptor, in-process.
const as = (token: string, headers: Record<string, string> = {}) => clientWithToken(store, grants, token, headers);

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: -1, message: "succeeded" }),
    (e: unknown) => ({ code: ConnectError.from(e).code, message: ConnectError.from(e).rawMessage }),
  );

describe("SessionService roles and tenants", () => {
  it("gives a client's sessions its tenant and hides them from other tenants exactly like missing ones", async () => {
    const a = as("client-a-0123456789");
    const b = as("client-b-0123456789");
    const created = await a.createSession({ sessionId: "acc-a1", config: testConfig() });
    expect(created.session?.tenant).toBe("a");
    const missing = await failure(b.getSession({ sessionId: "acc-none" }));
    expect(missing).toEqual({ code: Code.NotFound, message: 'session "acc-none" not found' });
    const hidden = (id: string) => ({ code: Code.NotFound, message: `session "${id}" not found` });
    expect(await failure(b.getSession({ sessionId: "acc-a1" }))).toEqual(hidden("acc-a1"));
    expect(await failure(b.getEvents({ sessionId: "acc-a1" }))).toEqual(hidden("acc-a1"));
    expect(await failure(b.deleteSession({ sessionId: "acc-a1" }))).toEqual(hidden("acc-a1"));
    const stream = b.streamEvents({ sessionId: "acc-a1" });
    expect(await failure(stream[Symbol.asyncIterator]().next())).toEqual(hidden("acc-a1"));
    expect((await b.listSessions({})).sessions.map((s) => s.sessionId)).not.toContain("acc-a1");
    expect((await a.listSessions({})).sessions.map((s) => s.sessionId)).toContain("acc-a1");
    expect((await a.getEvents({ sessionId: "acc-a1" })).events).toHaveLength(1);
  });

  it("lets only the harness and operators append, and a harness acting for a tenant is confined to it", async () => {
    const a = as("client-a-0123456789");
    await a.createSession({ sessionId: "acc-a2", config: testConfig() });
    expect(
      await failure(a.appendEvents({ sessionId: "acc-a2", expectedLastSeq: 1n, events: [userMessage("x")] })),
    ).toMatchObject({ code: Code.PermissionDenied, message: expect.stringContaining("AppendEvents") });
    const harness = as("harness-0123456789");
    await harness.appendEvents({ sessionId: "acc-a2", expectedLastSeq: 1n, events: [userMessage("x")] });
    const forB = as("harness-0123456789", { [tenantHeader]: "b" });
    expect(
      await failure(forB.appendEvents({ sessionId: "acc-a2", expectedLastSeq: 2n, events: [userMessage("y")] })),
    ).toEqual({ code: Code.NotFound, message: 'session "acc-a2" not found' });
    const forA = as("harness-0123456789", { [tenantHeader]: "a" });
    await forA.appendEvents({ sessionId: "acc-a2", expectedLastSeq: 2n, events: [userMessage("y")] });
    // Created for tenant b by the harness acting for it.
    expect((await forB.createSession({ sessionId: "acc-b1", config: testConfig() })).session?.tenant).toBe("b");
  });

  it("lets only the roles that may append create a session with initial events", async () => {
    const initialEvents = [userMessage("forged", "acc-init-m")];
    const refused = await failure(
      as("client-a-0123456789").createSession({ sessionId: "acc-init", config: testConfig(), initialEvents }),
    );
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(refused.message).toContain('initial_events: role "client" may not write events');
    expect(await failure(as("operator-0123456789").getSession({ sessionId: "acc-init" }))).toMatchObject({
      code: Code.NotFound,
    });
    const created = await as("harness-0123456789").createSession({
      sessionId: "acc-init",
      config: testConfig(),
      tenant: "a",
      initialEvents,
    });
    expect(created.initialEvents.map((e) => e.seq)).toEqual([2n]);
  });

  it("refuses a client naming another tenant, and another tenant's retried create", async () => {
    const a = as("client-a-0123456789");
    const b = as("client-b-0123456789");
    expect(await failure(a.createSession({ config: testConfig(), tenant: "b" }))).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(await failure(as("client-a-0123456789", { [tenantHeader]: "b" }).listSessions({}))).toMatchObject({
      code: Code.PermissionDenied,
    });
    await a.createSession({ sessionId: "acc-a3", eventId: "acc-a3-created", config: testConfig() });
    // Same ids, other tenant: no session and no event of tenant a comes back.
    expect(
      await failure(b.createSession({ sessionId: "acc-a3", eventId: "acc-a3-created", config: testConfig() })),
    ).toEqual({ code: Code.AlreadyExists, message: 'session "acc-a3" already exists' });
    expect(await failure(b.createSession({ sessionId: "acc-a3", config: testConfig() }))).toEqual({
      code: Code.AlreadyExists,
      message: 'session "acc-a3" already exists',
    });
  });

  it("lets operators see and delete every tenant's sessions and create for any tenant", async () => {
    const operator = as("operator-0123456789");
    const made = await operator.createSession({ sessionId: "acc-op", config: testConfig(), tenant: "a" });
    expect(made.session?.tenant).toBe("a");
    // Named by nobody: the tenant of the token that made it.
    const own = await as("operator-ops-0123456789").createSession({ sessionId: "acc-ops", config: testConfig() });
    expect(own.session?.tenant).toBe("ops");
    expect((await as("client-a-0123456789").getSession({ sessionId: "acc-op" })).session?.tenant).toBe("a");
    const all = (await operator.listSessions({})).sessions.map((s) => s.sessionId);
    expect(all).toEqual(expect.arrayContaining(["acc-a1", "acc-b1", "acc-op"]));
    await operator.deleteSession({ sessionId: "acc-a1" });
    expect(await failure(operator.getSession({ sessionId: "acc-a1" }))).toMatchObject({ code: Code.NotFound });
  });
});
