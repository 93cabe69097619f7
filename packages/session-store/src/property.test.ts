import { type Event, EventType, eventTypeOf } from "@reins/proto";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError } from "./errors.js";
import type { SessionStore } from "./session-store.js";
import { RunState, startStore, statusEvent, testConfig, userMessage } from "./testing/fixtures.js";

let nats: NatsServer;
let replicas: SessionStore[] = [];
beforeAll(async () => {
  nats = await startNatsServer();
  // Three replicas of the store: every operation picks one, so caches go stale
  // and the fence and the log (not a cache) must decide.
  replicas = await Promise.all([0, 1, 2].map(() => startStore(nats.url)));
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await nats?.stop();
});

type Op =
  | { kind: "append"; replica: number; size: number; statusAt: number }
  | { kind: "race"; replicas: [number, number] }
  | { kind: "stale"; replica: number; behind: number }
  | { kind: "retry"; replica: number; pick: number }
  | { kind: "read"; replica: number; after: number; limit: number; statusOnly: boolean }
  | { kind: "stream"; replica: number; after: number }
  | { kind: "appendWhileReading"; replicas: [number, number]; after: number };

const replica = fc.integer({ min: 0, max: 2 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      replica,
      size: fc.integer({ min: 1, max: 5 }),
      statusAt: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("race" as const), replicas: fc.tuple(replica, replica) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("stale" as const), replica, behind: fc.integer({ min: 1, max: 5 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("retry" as const), replica, pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      replica,
      after: fc.nat({ max: 40 }),
      limit: fc.integer({ min: 0, max: 12 }),
      statusOnly: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("stream" as const), replica, after: fc.nat({ max: 40 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("appendWhileReading" as const),
      replicas: fc.tuple(replica, replica),
      after: fc.nat({ max: 40 }),
    }),
  },
);

const pick = (i: number) => replicas[i] as SessionStore;
let run = 0;

describe("randomized interleavings", () => {
  it("read-back, pages and streams always equal the accepted appends in order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        const sessionId = `prop-${run++}`;
        const model: Event[] = [(await pick(0).createSession({ sessionId, config: testConfig() })).event];
        const accepted: { expected: number; events: Event[]; result: Event[] }[] = [];
        const streams: OpenStream[] = [];
        const ids = () => model.map((e) => e.id);
        const batchOf = (size: number, statusAt: number) =>
          Array.from({ length: size }, (_, k) =>
            k === statusAt ? statusEvent(RunState.RUNNING) : userMessage(`${k}`),
          );

        for (const o of ops) {
          const last = model.length;
          if (o.kind === "append") {
            const batch = batchOf(o.size, o.statusAt);
            const res = await pick(o.replica).appendEvents(sessionId, last, batch);
            expect(res.events.map((e) => e.id)).toEqual(batch.map((e) => e.id));
            model.push(...res.events);
            accepted.push({ expected: last, events: batch, result: res.events });
          } else if (o.kind === "race") {
            const [a, b] = [batchOf(1, 9), batchOf(2, 9)];
            const results = await Promise.allSettled([
              pick(o.replicas[0]).appendEvents(sessionId, last, a),
              pick(o.replicas[1]).appendEvents(sessionId, last, b),
            ]);
            const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
            expect(won).toHaveLength(1);
            const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
            expect(lost.reason).toBeInstanceOf(FencedError);
            model.push(...(won[0]?.events ?? []));
          } else if (o.kind === "stale") {
            if (last - o.behind < 1) continue;
            await expect(pick(o.replica).appendEvents(sessionId, last - o.behind, batchOf(1, 9))).rejects.toThrow(
              FencedError,
            );
          } else if (o.kind === "retry") {
            const earlier = accepted[o.pick % Math.max(1, accepted.length)];
            if (!earlier) continue;
            const res = await pick(o.replica).appendEvents(sessionId, earlier.expected, earlier.events);
            expect(res.events).toEqual(earlier.result);
            expect(res.lastSeq).toBe(last);
          } else if (o.kind === "read") {
            const types = o.statusOnly ? [EventType.SESSION_STATUS] : [];
            const page = await pick(o.replica).getEvents(sessionId, { afterSeq: o.after, limit: o.limit, types });
            const expected = model
              .slice(o.after)
              .filter((e) => !o.statusOnly || eventTypeOf(e) === EventType.SESSION_STATUS)
              .slice(0, o.limit === 0 ? 1000 : o.limit);
            expect(page.events).toEqual(expected);
            expect(page.lastSeq).toBe(last);
          } else if (o.kind === "appendWhileReading") {
            // A read racing an append sees the log either before or after it, whole.
            const before = [...model];
            const batch = batchOf(3, 1);
            const [res, page] = await Promise.all([
              pick(o.replicas[0]).appendEvents(sessionId, last, batch),
              pick(o.replicas[1]).getEvents(sessionId, { afterSeq: o.after }),
            ]);
            model.push(...res.events);
            const options = [before.slice(o.after), model.slice(o.after)];
            expect(options).toContainEqual(page.events);
            expect([before.length, model.length]).toContain(page.lastSeq);
          } else {
            streams.push(openStream(pick(o.replica), sessionId, o.after));
          }
        }

        // Full read-back from a replica chosen last equals the model exactly.
        const all = await pick(2).getEvents(sessionId, {});
        expect(all.events).toEqual(model);
        expect(all.events.map((e) => e.id)).toEqual(ids());
        // Every stream saw exactly the model after its cursor, once each, in order.
        const marker = (await pick(0).appendEvents(sessionId, model.length, [userMessage("end")])).events;
        model.push(...marker);
        for (const s of streams) expect(await s.finish(model.length)).toEqual(model.slice(s.after));
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});

interface OpenStream {
  readonly after: number;
  /** Waits until the stream delivered the event at `lastSeq`, ends it, returns what it saw. */
  finish(lastSeq: number): Promise<Event[]>;
}

function openStream(store: SessionStore, sessionId: string, after: number): OpenStream {
  const abort = new AbortController();
  const seen: Event[] = [];
  let target = Number.POSITIVE_INFINITY;
  let reached!: () => void;
  const reachedTarget = new Promise<void>((resolve) => (reached = resolve));
  const done = (async () => {
    for await (const event of store.streamEvents(sessionId, { afterSeq: after, signal: abort.signal })) {
      seen.push(event);
      if (Number(event.seq) >= target) reached();
    }
  })();
  // A failing run leaves streams open until the store closes; that rejection is
  // not the failure to report.
  done.catch(() => undefined);
  return {
    after,
    async finish(lastSeq) {
      target = lastSeq;
      if (after >= lastSeq || Number(seen[seen.length - 1]?.seq ?? 0) >= lastSeq) reached();
      await Promise.race([reachedTarget, done]);
      abort.abort();
      await done;
      return seen;
    },
  };
}
