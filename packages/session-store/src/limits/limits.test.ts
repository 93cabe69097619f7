import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { DurationSchema, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { type Event, RunState, SessionService, StopReason } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import type { SessionStoreOptions } from "../config.js";
import { createSessionServiceImpl } from "../service/index.js";
import type { SessionStore } from "../session-store.js";
import { startStore, statusEvent, testConfig, userMessage } from "../testing/fixtures.js";
import { statusReserveBytes } from "./append-limits.js";

const clientOf = (store: SessionStore) =>
  createClient(
    SessionService,
    createRouterTransport(({ service }) => service(SessionService, createSessionServiceImpl(store))),
  );

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error("expected the append to be refused");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

const detailTypes = (err: ConnectError) => err.details.map((d) => ("type" in d ? d.type : d.desc.typeName));

/** Subjects of the google.rpc.QuotaFailure violations of an error. */
function quotaSubjects(err: ConnectError): string[] {
  const subjects: string[] = [];
  for (const d of err.details) {
    if (!("type" in d) || d.type !== "google.rpc.QuotaFailure") continue;
    const failure = new BinaryReader(d.value);
    while (failure.pos < failure.len) {
      const [no, wireType] = failure.tag();
      if (no !== 1) {
        failure.skip(wireType);
        continue;
      }
      const violation = new BinaryReader(failure.bytes());
      while (violation.pos < violation.len) {
        const [field, type] = violation.tag();
        if (field === 1) subjects.push(violation.string());
        else violation.skip(type);
      }
    }
  }
  return subjects;
}

/** The google.rpc.RetryInfo delay of an error, in ms, if it carries one. */
function retryDelayMs(err: ConnectError): number | undefined {
  const detail = err.details.find((d) => "type" in d && d.type === "google.rpc.RetryInfo");
  if (!detail || !("value" in detail) || !(detail.value instanceof Uint8Array)) return undefined;
  const reader = new BinaryReader(detail.value);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1) return durationMs(fromBinary(DurationSchema, reader.bytes()));
    reader.skip(wireType);
  }
  return undefined;
}

const text = (bytes: number) => "x".repeat(bytes);

describe("per-session log size limit", () => {
  const limited = (url: string, options: SessionStoreOptions = {}) =>
    startStore(url, { maxLogBytes: 8 * 1024, maxEventsPerSecond: 0, ...options });

  it("refuses the append that would cross it, writes nothing, and says the limit and the size", async () => {
    await using nats = await startNatsServer();
    await using store = await limited(nats.url);
    const c = clientOf(store);
    await c.createSession({ sessionId: "full", config: testConfig() });
    let last = 1n;
    let perAppend = 0n;
    // About 2 KiB per append: some fit under 8 KiB, then one does not.
    for (;;) {
      const before = (await c.getSession({ sessionId: "full" })).session?.logBytes ?? 0n;
      const batch = [userMessage(text(2000))];
      const appended = await c.appendEvents({ sessionId: "full", expectedLastSeq: last, events: batch }).then(
        (r) => r,
        (e: unknown) => ConnectError.from(e),
      );
      if (appended instanceof ConnectError) {
        expect(appended.code).toBe(Code.ResourceExhausted);
        expect(appended.rawMessage).toContain(`the log holds ${before} bytes`);
        expect(appended.rawMessage).toContain("over the limit of 8192 bytes per session");
        expect(appended.rawMessage).toContain("nothing was written");
        // Terminal: the quota that refused it, and no retry hint.
        expect(detailTypes(appended)).toEqual(["google.rpc.QuotaFailure"]);
        expect(quotaSubjects(appended)).toEqual(["session/full/log_bytes"]);
        expect(retryDelayMs(appended)).toBeUndefined();
        // Refused exactly when it would have crossed: the same append fitted before.
        expect(before + perAppend).toBeGreaterThan(8192n);
        break;
      }
      last = appended.lastSeq;
      perAppend = ((await c.getSession({ sessionId: "full" })).session?.logBytes ?? 0n) - before;
      expect(last).toBeLessThan(10n);
    }
    expect(last).toBe(4n);
    const page = await c.getEvents({ sessionId: "full" });
    expect(page.lastSeq).toBe(last);
    const session = (await c.getSession({ sessionId: "full" })).session;
    expect(session?.lastSeq).toBe(last);
    expect(Number(session?.logBytes)).toBeGreaterThan(6 * 1024);
    expect(Number(session?.logBytes)).toBeLessThanOrEqual(8 * 1024);

    // A small event that still fits is accepted: the limit is on bytes, not on appends.
    const room = 8 * 1024 - Number(session?.logBytes);
    if (room > 200) {
      last = (await c.appendEvents({ sessionId: "full", expectedLastSeq: last, events: [userMessage("ok")] })).lastSeq;
    }
    const tooBig = await refusal(
      c.appendEvents({ sessionId: "full", expectedLastSeq: last, events: [userMessage(text(room))] }),
    );
    expect(tooBig.code).toBe(Code.ResourceExhausted);
  });

  it("counts from the log: the size survives a restart and is the same on another replica", async () => {
    await using nats = await startNatsServer();
    let size: bigint;
    let last: bigint;
    {
      await using store = await limited(nats.url);
      const c = clientOf(store);
      await c.createSession({ sessionId: "durable", config: testConfig() });
      last = (await c.appendEvents({ sessionId: "durable", expectedLastSeq: 1n, events: [userMessage(text(7000))] }))
        .lastSeq;
      size = (await c.getSession({ sessionId: "durable" })).session?.logBytes ?? 0n;
      expect(Number(size)).toBeGreaterThan(7000);
    }
    // Two fresh replicas on the same NATS: neither has seen the session.
    await using a = await limited(nats.url);
    await using b = await limited(nats.url);
    expect((await clientOf(a).getSession({ sessionId: "durable" })).session?.logBytes).toBe(size);
    for (const store of [a, b]) {
      const err = await refusal(
        clientOf(store).appendEvents({
          sessionId: "durable",
          expectedLastSeq: last,
          events: [userMessage(text(1500))],
        }),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toContain(`the log holds ${size} bytes`);
    }
    // A appends what fits; B, whose view is now stale, decides on the log as it is.
    last = (
      await clientOf(a).appendEvents({ sessionId: "durable", expectedLastSeq: last, events: [userMessage(text(500))] })
    ).lastSeq;
    const grown = (await clientOf(a).getSession({ sessionId: "durable" })).session?.logBytes ?? 0n;
    const err = await refusal(
      clientOf(b).appendEvents({ sessionId: "durable", expectedLastSeq: last, events: [userMessage(text(700))] }),
    );
    expect(err.rawMessage).toContain(`the log holds ${grown} bytes`);
    expect((await clientOf(b).getSession({ sessionId: "durable" })).session?.logBytes).toBe(grown);
  });

  it("still accepts a retry of a written batch, and a final status within the reserve", async () => {
    await using nats = await startNatsServer();
    await using store = await limited(nats.url);
    const c = clientOf(store);
    await c.createSession({ sessionId: "retry", config: testConfig() });
    const batch: Event[] = [userMessage(text(3500)), userMessage(text(3500))];
    const first = await c.appendEvents({ sessionId: "retry", expectedLastSeq: 1n, events: batch });
    expect(first.lastSeq).toBe(3n);
    // The log is now too full for this batch again, but it is the same batch: a no-op.
    const again = await c.appendEvents({ sessionId: "retry", expectedLastSeq: 1n, events: batch });
    expect(again.events.map((e) => e.seq)).toEqual([2n, 3n]);
    expect(again.lastSeq).toBe(3n);

    const refused = await refusal(
      c.appendEvents({ sessionId: "retry", expectedLastSeq: 3n, events: [userMessage(text(2000))] }),
    );
    expect(refused.code).toBe(Code.ResourceExhausted);
    // Why the session stopped can still be recorded...
    const status = statusEvent(RunState.TERMINATED, StopReason.ERROR);
    expect((await c.appendEvents({ sessionId: "retry", expectedLastSeq: 3n, events: [status] })).lastSeq).toBe(4n);
    // ...but only within the reserve.
    const big = [statusEvent(RunState.IDLE, StopReason.ERROR)];
    if (big[0]?.payload.case === "sessionStatus") big[0].payload.value.detail = text(statusReserveBytes + 2048);
    const overReserve = await refusal(c.appendEvents({ sessionId: "retry", expectedLastSeq: 4n, events: big }));
    expect(overReserve.code).toBe(Code.ResourceExhausted);
    expect((await c.getEvents({ sessionId: "retry" })).lastSeq).toBe(4n);
  });
});

describe("per-session event rate limit", () => {
  it("refuses beyond the burst with a retry hint, writes nothing, and accepts again once refilled", async () => {
    await using nats = await startNatsServer();
    await using store = await startStore(nats.url, { maxEventsPerSecond: 4, eventsBurst: 100 });
    const c = clientOf(store);
    await c.createSession({ sessionId: "fast", config: testConfig() });
    await c.createSession({ sessionId: "other", config: testConfig() });
    const burst = Array.from({ length: 100 }, (_, i) => userMessage(`e${i}`));
    const written = await c.appendEvents({ sessionId: "fast", expectedLastSeq: 1n, events: burst });
    expect(written.lastSeq).toBe(101n);

    const next = [userMessage("one more"), userMessage("and another")];
    const err = await refusal(c.appendEvents({ sessionId: "fast", expectedLastSeq: 101n, events: next }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(
      /over the limit of 4 events per second \(burst 100\); nothing was written, retry in \d+ ms/,
    );
    expect(detailTypes(err)).toEqual(["google.rpc.QuotaFailure", "google.rpc.RetryInfo"]);
    expect(quotaSubjects(err)).toEqual(["session/fast/events_per_second"]);
    const hint = retryDelayMs(err);
    expect(hint).toBeGreaterThan(0);
    // Two events at 4 per second: at most half a second from an empty bucket.
    expect(hint).toBeLessThanOrEqual(500);
    expect((await c.getEvents({ sessionId: "fast", afterSeq: 101n })).events).toEqual([]);

    // The limit is per session: another session is not affected.
    expect(
      (await c.appendEvents({ sessionId: "other", expectedLastSeq: 1n, events: [userMessage("hi")] })).lastSeq,
    ).toBe(2n);
    // A retry of the written batch is answered with the originals, not refused.
    expect((await c.appendEvents({ sessionId: "fast", expectedLastSeq: 1n, events: burst })).lastSeq).toBe(101n);

    // Retrying as told: accepted once the bucket has refilled.
    let attempts = 0;
    for (let wait = hint ?? 0; ; attempts++) {
      expect(attempts).toBeLessThan(20);
      await new Promise((resolve) => setTimeout(resolve, wait));
      const result = await c.appendEvents({ sessionId: "fast", expectedLastSeq: 101n, events: next }).then(
        (r) => r,
        (e: unknown) => ConnectError.from(e),
      );
      if (!(result instanceof ConnectError)) {
        expect(result.lastSeq).toBe(103n);
        break;
      }
      expect(result.code).toBe(Code.ResourceExhausted);
      wait = retryDelayMs(result) ?? 100;
    }
  });

  it("answers a retry of a batch another replica wrote with the originals, even with its own bucket empty", async () => {
    await using nats = await startNatsServer();
    await using a = await startStore(nats.url, { maxEventsPerSecond: 0 });
    await using b = await startStore(nats.url, { maxEventsPerSecond: 1, eventsBurst: 100 });
    await a.createSession({ sessionId: "shared", config: testConfig() });
    // B writes its whole burst, so its view of the log is cached and its bucket empty.
    const burst = Array.from({ length: 100 }, (_, i) => userMessage(`b${i}`));
    expect((await b.appendEvents("shared", 1, burst)).lastSeq).toBe(101);
    // A writes the next batch; B's cached view does not have it.
    const batch = [userMessage("from a")];
    expect((await a.appendEvents("shared", 101, batch)).lastSeq).toBe(102);
    // The writer retries through B (its first answer lost): the original, not a refusal.
    const retried = await b.appendEvents("shared", 101, batch);
    expect(retried.lastSeq).toBe(102);
    expect(retried.events.map((e) => Number(e.seq))).toEqual([102]);
    // A new batch through B is refused, on the log as it is.
    const err = await b.appendEvents("shared", 102, [userMessage("new")]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe("RateLimitedError");
  });
});
