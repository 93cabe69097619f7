import { EventType } from "@reins/proto";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, SessionExistsError, SessionNotFoundError } from "./errors.js";
import {
  RunState,
  StopReason,
  seqs,
  spanEvent,
  startStore,
  statusEvent,
  testConfig,
  texts,
  userMessage,
} from "./testing/fixtures.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

describe("session store", () => {
  it("creates a session whose log starts with session.created at seq 1", async () => {
    await using store = await startStore(nats.url);
    const { session, event } = await store.createSession({ sessionId: "s-create", config: testConfig(), title: "hi" });
    expect(event.seq).toBe(1n);
    expect(event.payload.case).toBe("sessionCreated");
    expect(session).toMatchObject({ sessionId: "s-create", title: "hi", model: "claude-test", lastSeq: 1n });
    const page = await store.getEvents("s-create");
    expect(page.events.map((e) => e.id)).toEqual([event.id]);
    expect(page.lastSeq).toBe(1);
  });

  it("generates ids when none are given", async () => {
    await using store = await startStore(nats.url);
    const { session, event } = await store.createSession({ config: testConfig() });
    expect(session.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a retried create with the original and a different create with ALREADY_EXISTS", async () => {
    await using store = await startStore(nats.url);
    const first = await store.createSession({ sessionId: "s-dup", config: testConfig(), eventId: "created-1" });
    // A fresh store has no cache: the answer comes from the log.
    await using other = await startStore(nats.url);
    const again = await other.createSession({ sessionId: "s-dup", config: testConfig(), eventId: "created-1" });
    expect(again.event).toEqual(first.event);
    await expect(other.createSession({ sessionId: "s-dup", config: testConfig(), eventId: "x" })).rejects.toThrow(
      SessionExistsError,
    );
  });

  it("writes initial events with session.created in one write, and answers a retry with them", async () => {
    await using store = await startStore(nats.url);
    const initial = [userMessage("first", "m-1"), statusEvent(RunState.RUNNING, StopReason.UNSPECIFIED, "r-1")];
    const first = await store.createSession({
      sessionId: "s-initial",
      config: testConfig(),
      eventId: "c-1",
      initialEvents: initial,
    });
    expect(first.initialEvents.map((e) => [e.id, e.seq])).toEqual([
      ["m-1", 2n],
      ["r-1", 3n],
    ]);
    expect(first.session).toMatchObject({ lastSeq: 3n, state: RunState.RUNNING });
    // The log, in order, right after the create.
    const info = await store.getEvents("s-initial");
    expect(info.events.map((e) => e.id)).toEqual(["c-1", "m-1", "r-1"]);

    // The retry, from a replica with no cache: the same answer and nothing written twice.
    await using other = await startStore(nats.url);
    const again = await other.createSession({
      sessionId: "s-initial",
      config: testConfig(),
      eventId: "c-1",
      initialEvents: initial,
    });
    expect(again.initialEvents).toEqual(first.initialEvents);
    expect((await other.getEvents("s-initial")).lastSeq).toBe(3);
    // Same created id, other initial events: another create, not a retry.
    await expect(
      other.createSession({
        sessionId: "s-initial",
        config: testConfig(),
        eventId: "c-1",
        initialEvents: [userMessage("other", "m-2")],
      }),
    ).rejects.toThrow(SessionExistsError);
  });

  it("refuses bad initial events and creates nothing", async () => {
    await using store = await startStore(nats.url);
    const bad = [
      [[userMessage("a", "same"), userMessage("b", "same")], /initial_events\[1\]\.id "same" appears twice/],
      [[userMessage("a", "c-1")], /initial_events\[0\]\.id "c-1" is the session.created event's id/],
      [[userMessage("a", "")], /initial_events\[0\]\.id is required/],
    ] as const;
    for (const [initialEvents, message] of bad) {
      await expect(
        store.createSession({ sessionId: "s-bad-initial", config: testConfig(), eventId: "c-1", initialEvents }),
      ).rejects.toThrow(message);
      await expect(store.getSession("s-bad-initial")).rejects.toThrow(SessionNotFoundError);
    }
  });

  it("appends contiguous seqs and reads them back in pages", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "s-pages", config: testConfig() });
    let last = 1;
    for (let i = 0; i < 25; i++) {
      const batch = Array.from({ length: (i % 3) + 1 }, (_, k) => userMessage(`m${i}.${k}`));
      const res = await store.appendEvents("s-pages", last, batch);
      expect(seqs(res.events)).toEqual(batch.map((_, k) => last + 1 + k));
      last = res.lastSeq;
    }
    const all = [];
    let after = 0;
    for (;;) {
      const page = await store.getEvents("s-pages", { afterSeq: after, limit: 7 });
      if (page.events.length === 0) break;
      all.push(...page.events);
      after = page.nextAfterSeq;
    }
    expect(seqs(all)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    // A cold store (another replica) reads the same.
    await using other = await startStore(nats.url);
    const cold = await other.getEvents("s-pages", { afterSeq: 10, limit: 5 });
    expect(seqs(cold.events)).toEqual([11, 12, 13, 14, 15]);
    expect(cold.nextAfterSeq).toBe(15);
    expect(cold.lastSeq).toBe(last);
  });

  it("filters by type and moves the cursor past skipped events", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "s-filter", config: testConfig() });
    await store.appendEvents("s-filter", 1, [userMessage("a"), statusEvent(RunState.RUNNING), userMessage("b")]);
    await store.appendEvents("s-filter", 4, [statusEvent(RunState.IDLE, StopReason.END_TURN)]);
    const page = await store.getEvents("s-filter", { types: [EventType.USER_MESSAGE], limit: 1 });
    expect(texts(page.events)).toEqual(["a"]);
    expect(page.nextAfterSeq).toBe(2);
    const rest = await store.getEvents("s-filter", { afterSeq: 2, types: [EventType.USER_MESSAGE] });
    expect(texts(rest.events)).toEqual(["b"]);
    const none = await store.getEvents("s-filter", { afterSeq: 4, types: [EventType.USER_MESSAGE] });
    expect(none.events).toEqual([]);
    expect(none.nextAfterSeq).toBe(5);
  });

  it("fences a stale writer with the current last seq and writes nothing", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "s-fence", config: testConfig() });
    await store.appendEvents("s-fence", 1, [userMessage("winner")]);
    const err = await store.appendEvents("s-fence", 1, [userMessage("loser")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as FencedError).lastSeq).toBe(2);
    expect((err as Error).message).toContain("last seq is 2");
    expect(texts((await store.getEvents("s-fence")).events)).toEqual(["<sessionCreated>", "winner"]);
  });

  it("folds status, usage and cost into the session summary and the index", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "s-sum", config: testConfig(), title: "sum" });
    await store.appendEvents("s-sum", 1, [statusEvent(RunState.RUNNING), spanEvent(10, 5, 0.25)]);
    await store.appendEvents("s-sum", 3, [spanEvent(1, 2, 0.5), statusEvent(RunState.IDLE, StopReason.END_TURN)]);
    const session = await store.getSession("s-sum");
    expect(session).toMatchObject({
      state: RunState.IDLE,
      stopReason: StopReason.END_TURN,
      lastSeq: 5n,
      costUsd: 0.75,
      modelRequests: 2,
      usage: { inputTokens: 11n, outputTokens: 7n },
    });
    // A replica that never read the log answers from the index (status writes are eager).
    await using other = await startStore(nats.url);
    expect(await other.getSession("s-sum")).toMatchObject({ state: RunState.IDLE, lastSeq: 5n, costUsd: 0.75 });
  });

  it("lists sessions newest first in pages, filtered by state", async () => {
    await using store = await startStore(nats.url, { prefix: "LIST" });
    const ids = ["l-1", "l-2", "l-3", "l-4", "l-5"];
    for (const id of ids) {
      await store.createSession({ sessionId: id, config: testConfig() });
      // Distinct creation milliseconds make "newest first" unambiguous.
      const created = Date.now();
      while (Date.now() === created) await new Promise((r) => setImmediate(r));
    }
    await store.appendEvents("l-2", 1, [statusEvent(RunState.IDLE, StopReason.END_TURN)]);
    await store.appendEvents("l-4", 1, [statusEvent(RunState.IDLE, StopReason.END_TURN)]);
    const seen: string[] = [];
    let token = "";
    do {
      const page = await store.listSessions({ pageSize: 2, pageToken: token });
      seen.push(...page.sessions.map((s) => s.sessionId));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen).toEqual([...ids].reverse());
    const idle = await store.listSessions({ state: RunState.IDLE });
    expect(idle.sessions.map((s) => s.sessionId)).toEqual(["l-4", "l-2"]);
  });

  it("deletes a session: log and index are gone and reads say not found", async () => {
    await using store = await startStore(nats.url, { prefix: "DEL" });
    await store.createSession({ sessionId: "s-del", config: testConfig() });
    await store.appendEvents("s-del", 1, [userMessage("a"), userMessage("b")]);
    expect(await store.deleteSession("s-del")).toEqual({ purgedEvents: 3 });
    await expect(store.getSession("s-del")).rejects.toThrow(SessionNotFoundError);
    await expect(store.getEvents("s-del")).rejects.toThrow(SessionNotFoundError);
    await expect(store.appendEvents("s-del", 3, [userMessage("c")])).rejects.toThrow(SessionNotFoundError);
    await expect(store.deleteSession("s-del")).rejects.toThrow(SessionNotFoundError);
    expect((await store.listSessions({})).sessions).toEqual([]);
    // The id can be used again, and the new log starts over at seq 1.
    const again = await store.createSession({ sessionId: "s-del", config: testConfig() });
    expect(again.event.seq).toBe(1n);
  });

  it("keeps two deployments with different prefixes apart on one NATS", async () => {
    await using a = await startStore(nats.url, { prefix: "ALPHA" });
    await using b = await startStore(nats.url, { prefix: "BETA" });
    await a.createSession({ sessionId: "shared-id", config: testConfig(), title: "alpha" });
    await expect(b.getSession("shared-id")).rejects.toThrow(SessionNotFoundError);
    await b.createSession({ sessionId: "shared-id", config: testConfig(), title: "beta" });
    expect((await a.getSession("shared-id")).title).toBe("alpha");
    expect(a.names).toEqual({
      stream: "ALPHA_EVENTS",
      bucket: "ALPHA_SESSIONS",
      executorsBucket: "ALPHA_EXECUTORS",
      eventsSubject: "alpha.events",
    });
  });
});
