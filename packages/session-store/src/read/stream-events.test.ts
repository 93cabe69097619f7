import { type Event, EventType } from "@reins/proto";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SessionNotFoundError, StreamLagError } from "../errors.js";
import type { SessionStore } from "../session-store.js";
import { RunState, seqs, startStore, statusEvent, testConfig, texts, userMessage } from "../testing/fixtures.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

/** Collects a stream until `until` says stop; aborts it then. */
async function collect(
  store: SessionStore,
  sessionId: string,
  options: { afterSeq?: number; types?: EventType[] },
  until: (events: Event[]) => boolean,
): Promise<Event[]> {
  const abort = new AbortController();
  const events: Event[] = [];
  for await (const event of store.streamEvents(sessionId, { ...options, signal: abort.signal })) {
    events.push(event);
    if (until(events)) abort.abort();
  }
  return events;
}

async function consumerCount(stream: string): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).state.consumer_count;
  } finally {
    await nc.close();
  }
}

async function appendMany(store: SessionStore, sessionId: string, batches: number, from = 1) {
  let last = from;
  for (let i = 0; i < batches; i++) {
    const batch = Array.from({ length: (i % 4) + 1 }, (_, k) => userMessage(`${i}.${k}`));
    last = (await store.appendEvents(sessionId, last, batch)).lastSeq;
  }
  return last;
}

describe("StreamEvents", () => {
  it("replays then follows live; a stream started mid-append sees every event exactly once", async () => {
    await using store = await startStore(nats.url);
    await using writerStore = await startStore(nats.url);
    await store.createSession({ sessionId: "follow", config: testConfig() });
    const batches = 300; // 750 events
    const total = 1 + (batches / 4) * (1 + 2 + 3 + 4);
    let started = 0;
    const streams: Promise<Event[]>[] = [];
    // Streams open at different points while the writer runs, from different cursors.
    const writing = (async () => {
      let last = 1;
      for (let i = 0; i < batches; i++) {
        const batch = Array.from({ length: (i % 4) + 1 }, (_, k) => userMessage(`${i}.${k}`));
        last = (await writerStore.appendEvents("follow", last, batch)).lastSeq;
        if (i % 50 === 10) {
          const afterSeq = started++ % 2 === 0 ? 0 : Math.max(0, last - 7);
          streams.push(
            collect(store, "follow", { afterSeq }, (evs) => Number(evs[evs.length - 1]?.seq) >= total).then((evs) => {
              expect(seqs(evs)).toEqual(Array.from({ length: total - afterSeq }, (_, k) => afterSeq + 1 + k));
              return evs;
            }),
          );
        }
      }
      return last;
    })();
    expect(await writing).toBe(total);
    const results = await Promise.all(streams);
    expect(results).toHaveLength(6);
  });

  it("applies the type filter and starts after after_seq even beyond the end", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "filter", config: testConfig() });
    await store.appendEvents("filter", 1, [userMessage("a"), statusEvent(RunState.RUNNING)]);
    const statuses = collect(store, "filter", { types: [EventType.SESSION_STATUS] }, (evs) => evs.length === 2);
    const future = collect(store, "filter", { afterSeq: 5 }, (evs) => evs.length === 1);
    await store.appendEvents("filter", 3, [userMessage("b"), userMessage("c"), statusEvent(RunState.IDLE)]);
    await store.appendEvents("filter", 6, [userMessage("d")]);
    expect(seqs(await statuses)).toEqual([3, 6]);
    expect(texts(await future)).toEqual(["<sessionStatus>"]);
  });

  it("a client leaving frees its consumer", async () => {
    await using store = await startStore(nats.url, { prefix: "FREE" });
    await store.createSession({ sessionId: "free", config: testConfig() });
    const before = await consumerCount("FREE_EVENTS");
    const abort = new AbortController();
    const stream = store.streamEvents("free", { signal: abort.signal });
    expect((await stream.next()).value?.seq).toBe(1n);
    expect(await consumerCount("FREE_EVENTS")).toBe(before + 1);
    const pending = stream.next();
    abort.abort();
    expect((await pending).done).toBe(true);
    expect(store.openStreams).toBe(0);
    expect(await consumerCount("FREE_EVENTS")).toBe(before);
  });

  it("ends streams with NOT_FOUND when the session is deleted, here or on another replica", async () => {
    await using store = await startStore(nats.url);
    await using other = await startStore(nats.url);
    for (const id of ["gone-local", "gone-remote"]) await store.createSession({ sessionId: id, config: testConfig() });
    const local = store.streamEvents("gone-local");
    const remote = store.streamEvents("gone-remote");
    expect((await local.next()).value?.seq).toBe(1n);
    expect((await remote.next()).value?.seq).toBe(1n);
    const localEnd = expect(local.next()).rejects.toThrow(SessionNotFoundError);
    const remoteEnd = expect(remote.next()).rejects.toThrow(SessionNotFoundError);
    await store.deleteSession("gone-local");
    await other.deleteSession("gone-remote");
    await localEnd;
    await remoteEnd;
    await expect(store.streamEvents("gone-local").next()).rejects.toThrow(SessionNotFoundError);
  });

  it("serves hundreds of concurrent streams and frees all their consumers", async () => {
    await using store = await startStore(nats.url, { prefix: "MANY" });
    const sessions = Array.from({ length: 10 }, (_, i) => `many-${i}`);
    for (const id of sessions) await store.createSession({ sessionId: id, config: testConfig() });
    const perSession = 30;
    const total = 1 + (8 / 4) * (1 + 2 + 3 + 4); // events after appendMany(.., 8)
    const streams = sessions.flatMap((id) =>
      Array.from({ length: perSession }, () => collect(store, id, {}, (evs) => evs.length === total)),
    );
    await Promise.all(sessions.map((id) => appendMany(store, id, 8)));
    const results = await Promise.all(streams);
    expect(results).toHaveLength(300);
    for (const events of results) expect(seqs(events)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(store.openStreams).toBe(0);
    expect(await consumerCount("MANY_EVENTS")).toBe(0);
  }, 60_000);

  it("ends a reader that falls too far behind, and only that reader, saying where to resume", async () => {
    const lagLimit = 64 * 1024;
    await using store = await startStore(nats.url, {
      prefix: "LAG",
      maxMessageBytes: 16 * 1024,
      maxStreamLagBytes: lagLimit,
    });
    await using writer = await startStore(nats.url, { prefix: "LAG", maxEventsPerSecond: 0 });
    await store.createSession({ sessionId: "lag", config: testConfig() });
    // The slow reader takes the first event, then reads nothing while the log grows.
    const slow = store.streamEvents("lag");
    expect((await slow.next()).value?.seq).toBe(1n);
    const total = 1 + 200 * 10;
    const fast = collect(store, "lag", {}, (evs) => evs.length === total);
    let last = 1;
    for (let i = 0; i < 200; i++) {
      const batch = Array.from({ length: 10 }, (_, k) => userMessage(`${i}.${k} ${"x".repeat(500)}`));
      last = (await writer.appendEvents("lag", last, batch)).lastSeq;
    }
    expect(seqs(await fast)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Dropping the reader deletes its consumer at once, before the reader reads again.
    await vi.waitFor(async () => expect(await consumerCount("LAG_EVENTS")).toBe(0), { timeout: 10_000 });

    const error = await slow.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StreamLagError);
    expect((error as StreamLagError).resumeAfterSeq).toBe(1);
    expect((error as Error).message).toContain(`fell too far behind the log: more than ${lagLimit} bytes`);
    expect((error as Error).message).toContain("stream again with after_seq 1");
    expect(store.openStreams).toBe(0);
    // Resuming where it says loses nothing.
    const rest = await collect(store, "lag", { afterSeq: 1 }, (evs) => evs.length === total - 1);
    expect(seqs(rest)).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 2));
  });
});
