import { Code, ConnectError } from "@connectrpc/connect";
import { tenantHeader } from "@reins/service-kit";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "./session-store.js";
import { clientWithToken, startStore, testConfig, userMessage } from "./testing/fixtures.js";

// Two replicas of the store on one real nats-server. Tenant A's call is served
// by `near`; tenant B deletes the session and creates one of the same id through
// `far` at the worst moment: after the call reached the handler, right before
// the store operation starts. Whatever A's handler checked before that point,
// the operation must act on B's session as on a missing one.

let nats: NatsServer;
let near: SessionStore;
let far: SessionStore;
beforeAll(async () => {
  nats = await startNatsServer();
  near = await startStore(nats.url);
  far = await startStore(nats.url);
});
afterAll(async () => {
  await near?.close();
  await far?.close();
  await nats?.stop();
});

const grants = [{ token: "harness-0123456789", role: "harness", tenant: "" }];

/** `store` with `between()` run at the start of every log operation, before the real one. */
function interleaved(store: SessionStore, between: () => Promise<void>): SessionStore {
  return Object.assign(Object.create(store) as SessionStore, {
    appendEvents: async (...args: Parameters<SessionStore["appendEvents"]>) => {
      await between();
      return store.appendEvents(...args);
    },
    getEvents: async (...args: Parameters<SessionStore["getEvents"]>) => {
      await between();
      return store.getEvents(...args);
    },
    streamEvents: (...args: Parameters<SessionStore["streamEvents"]>) =>
      (async function* () {
        await between();
        yield* store.streamEvents(...args);
      })(),
    deleteSession: async (...args: Parameters<SessionStore["deleteSession"]>) => {
      await between();
      return store.deleteSession(...args);
    },
  });
}

/** The harness acting for tenant A (a client may not append; every other call is confined the same way). */
const clientA = (store: SessionStore) => clientWithToken(store, grants, "harness-0123456789", { [tenantHeader]: "a" });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: "OK", message: "" }),
    (e: unknown) => ({ code: Code[ConnectError.from(e).code], message: ConnectError.from(e).rawMessage }),
  );

describe("tenant confinement against a delete and re-create by another tenant", () => {
  const calls: Record<string, (client: ReturnType<typeof clientA>, sessionId: string) => Promise<unknown>> = {
    AppendEvents: (c, sessionId) =>
      // At seq 1, where the re-created session also is: only the owner check stops it.
      c.appendEvents({ sessionId, expectedLastSeq: 1n, events: [userMessage("from tenant a")] }),
    GetEvents: (c, sessionId) => c.getEvents({ sessionId }),
    StreamEvents: async (c, sessionId) => {
      for await (const _ of c.streamEvents({ sessionId })) return;
    },
    DeleteSession: (c, sessionId) => c.deleteSession({ sessionId }),
  };

  for (const [name, call] of Object.entries(calls)) {
    it(`${name}: answers NOT_FOUND like a missing session and leaves the new owner's session alone`, async () => {
      const sessionId = `race-${name.toLowerCase()}`;
      // A's session, created through the replica that serves A's call (its cache holds A's state).
      await near.createSession({ sessionId, config: testConfig(), tenant: "a" });
      let swapped = false;
      const client = clientA(
        interleaved(near, async () => {
          if (swapped) return;
          swapped = true;
          await far.deleteSession(sessionId);
          await far.createSession({ sessionId, config: testConfig(), tenant: "b" });
        }),
      );
      expect(await failure(call(client, sessionId))).toEqual({
        code: "NotFound",
        message: `session "${sessionId}" not found`,
      });
      expect(swapped).toBe(true);
      // B's session is whole and untouched, on both replicas.
      for (const store of [near, far]) {
        expect((await store.getSession(sessionId)).tenant).toBe("b");
        expect((await store.getEvents(sessionId)).events.map((e) => e.payload.case)).toEqual(["sessionCreated"]);
      }
      // The same call on A's own session goes through: the refusal above is the owner check.
      const own = `${sessionId}-own`;
      await near.createSession({ sessionId: own, config: testConfig(), tenant: "a" });
      if (name === "StreamEvents") {
        // Straight from the store: a stream handler left at a yield by an in-process client is never closed.
        for await (const event of near.streamEvents(own, { tenant: "a" })) {
          expect(event.payload.case).toBe("sessionCreated");
          break;
        }
      } else {
        expect(await failure(call(clientA(near), own))).toEqual({ code: "OK", message: "" });
      }
    });
  }
});

describe("a replica's cached log across a delete it has not heard of", () => {
  it("is not joined to a new log that continues its numbering: the new owner's events stay hidden", async () => {
    const sessionId = "race-stale-cache";
    await near.createSession({ sessionId, config: testConfig(), tenant: "a" });
    expect((await near.getEvents(sessionId, { tenant: "a" })).events).toHaveLength(1);
    // The log goes away without the index entry's removal (which tells replicas to drop
    // their copy) having reached `near`; tenant B then creates the id and writes seq 2.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.purge(near.names.stream, { filter: `${near.names.eventsSubject}.${sessionId}` });
    } finally {
      await nc.close();
    }
    await far.createSession({ sessionId, config: testConfig(), tenant: "b" });
    await far.appendEvents(sessionId, 1, [userMessage("tenant b's secret")]);

    const hidden = { name: "SessionNotFoundError", message: `session "${sessionId}" not found` };
    await expect(near.getEvents(sessionId, { tenant: "a" })).rejects.toMatchObject(hidden);
    await expect(
      near.appendEvents(sessionId, 2, [userMessage("from tenant a")], { tenant: "a" }),
    ).rejects.toMatchObject(hidden);
    const seen = (await near.getEvents(sessionId, { tenant: "b" })).events;
    expect(seen.map((e) => e.payload.case)).toEqual(["sessionCreated", "userMessage"]);
    expect((await near.getSession(sessionId)).tenant).toBe("b");
  });
});
