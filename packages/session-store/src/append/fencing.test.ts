import { type NatsServer, startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, InvalidRequestError } from "../errors.js";
import { seqs, startStore, testConfig, texts, userMessage } from "../testing/fixtures.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

describe("single writer (fencing)", () => {
  it("two writers racing at the same expected_last_seq 1000 times: exactly one wins each time", async () => {
    // Two stores = two replicas with their own connections and caches, so the
    // race is decided by JetStream's fence, not by an in-process lock.
    await using a = await startStore(nats.url);
    await using b = await startStore(nats.url);
    await a.createSession({ sessionId: "race", config: testConfig() });
    const winners: string[] = [];
    let expected = 1;
    for (let round = 0; round < 1000; round++) {
      const results = await Promise.allSettled([
        a.appendEvents("race", expected, [userMessage(`a${round}`)]),
        b.appendEvents("race", expected, [userMessage(`b${round}`)]),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const reason = (lost[0] as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(FencedError);
      expect((reason as FencedError).lastSeq).toBe(expected + 1);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof a.appendEvents>>>).value;
      expect(seqs(winner.events)).toEqual([expected + 1]);
      winners.push(texts(winner.events)[0] as string);
      expected += 1;
    }
    // No gap, no fork: the log is exactly session.created + each round's winner.
    await using reader = await startStore(nats.url);
    const events = [];
    for (let after = 0; ; ) {
      const page = await reader.getEvents("race", { afterSeq: after });
      if (page.events.length === 0) break;
      events.push(...page.events);
      after = page.nextAfterSeq;
    }
    expect(seqs(events)).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
    expect(texts(events.slice(1))).toEqual(winners);
    // Both replicas won sometimes: the race was real.
    expect(winners.some((w) => w.startsWith("a"))).toBe(true);
    expect(winners.some((w) => w.startsWith("b"))).toBe(true);
  });

  it("two writers in one process race the same way", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "race-local", config: testConfig() });
    for (let expected = 1; expected <= 100; expected++) {
      const results = await Promise.allSettled([
        store.appendEvents("race-local", expected, [userMessage("x")]),
        store.appendEvents("race-local", expected, [userMessage("y")]),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    }
    expect((await store.getEvents("race-local")).lastSeq).toBe(101);
  });
});

describe("idempotent appends", () => {
  it("a retried batch is written once and returns the original seqs, even with a stale expected_last_seq", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "retry", config: testConfig() });
    const batch = [userMessage("one", "evt-1"), userMessage("two", "evt-2")];
    const first = await store.appendEvents("retry", 1, batch);
    await store.appendEvents("retry", 3, [userMessage("three", "evt-3")]);
    // Same ids, expected_last_seq now stale: success with the originals.
    const again = await store.appendEvents("retry", 1, batch);
    expect(again.events).toEqual(first.events);
    expect(again.lastSeq).toBe(4);
    // Already-present ids are a no-op even when the fence would let them through.
    const noop = await store.appendEvents("retry", 4, [userMessage("three", "evt-3")]);
    expect(seqs(noop.events)).toEqual([4]);
    expect(texts((await store.getEvents("retry")).events)).toEqual(["<sessionCreated>", "one", "two", "three"]);
  });

  it("a retry through a replica that never saw the first attempt gets the original (ack lost)", async () => {
    await using writer = await startStore(nats.url);
    await using retrier = await startStore(nats.url);
    await writer.createSession({ sessionId: "ack-lost", config: testConfig() });
    await retrier.getEvents("ack-lost"); // the retrier's view stops at seq 1
    const batch = [userMessage("x", "lost-1")];
    const first = await writer.appendEvents("ack-lost", 1, batch);
    const retried = await retrier.appendEvents("ack-lost", 1, batch);
    expect(retried.events).toEqual(first.events);
    expect((await retrier.getEvents("ack-lost")).lastSeq).toBe(2);
  });

  it("stays idempotent after JetStream's dedupe window has passed", async () => {
    const windowMs = 100;
    const options = { prefix: "DEDUPE", duplicateWindowMs: windowMs };
    await using writer = await startStore(nats.url, options);
    await using retrier = await startStore(nats.url, options);
    await writer.createSession({ sessionId: "late", config: testConfig() });
    await retrier.getEvents("late");
    const batch = [userMessage("x", "late-1"), userMessage("y", "late-2")];
    const first = await writer.appendEvents("late", 1, batch);
    await waitForDedupeWindowToPass(nats.url, "DEDUPE_EVENTS", "dedupe.events.probe", windowMs);
    const retried = await retrier.appendEvents("late", 1, batch);
    expect(retried.events).toEqual(first.events);
    expect(seqs((await retrier.getEvents("late")).events)).toEqual([1, 2, 3]);
  });

  it("rejects a batch of which only some ids are in the log", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "mixed", config: testConfig() });
    await store.appendEvents("mixed", 1, [userMessage("a", "m-a")]);
    const err = await store
      .appendEvents("mixed", 2, [userMessage("a", "m-a"), userMessage("b", "m-b")])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).message).toBe(
      'events "m-a" (seq 2) are already in the log but "m-b" are not: a retry must resend exactly the same batch, and new events need new ids',
    );
    expect((await store.getEvents("mixed")).lastSeq).toBe(2);
  });

  it("a different writer with a stale expected_last_seq gets ABORTED", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "zombie", config: testConfig() });
    await store.appendEvents("zombie", 1, [userMessage("new owner")]);
    await expect(store.appendEvents("zombie", 1, [userMessage("zombie")])).rejects.toThrow(FencedError);
  });
});

// JetStream forgets msg ids on a timer; publishing a probe id until it is no
// longer a duplicate shows that the window has really passed.
async function waitForDedupeWindowToPass(url: string, stream: string, subject: string, windowMs: number) {
  const nc = await connect({ servers: url });
  try {
    const js = nc.jetstream();
    await js.publish(subject, new Uint8Array(), { msgID: "probe", expect: { streamName: stream } });
    for (;;) {
      await new Promise((r) => setTimeout(r, windowMs / 2));
      const ack = await js.publish(subject, new Uint8Array(), { msgID: "probe" });
      if (!ack.duplicate) return;
    }
  } finally {
    await nc.close();
  }
}
