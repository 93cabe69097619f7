import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type AppendEventsRequest,
  type AppendEventsResponse,
  AppendEventsResponseSchema,
  type AppendEventsStreamRequest,
  AppendEventsStreamRequestSchema,
  type AppendEventsStreamResponse,
} from "@reins/proto";
import { createAsyncQueue, tenantHeader } from "@reins/service-kit";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../errors.js";
import type { SessionStore } from "../session-store.js";
import { clientWithToken, startStore, testConfig, userMessage } from "../testing/fixtures.js";
import { serveAppendStream } from "./append-stream.js";

type RequestInit = Parameters<typeof create<typeof AppendEventsStreamRequestSchema>>[1];

/** Both ends of one stream: push requests, pull answers one at a time. */
function openStream(
  serve: (requests: AsyncIterable<AppendEventsStreamRequest>) => AsyncIterable<AppendEventsStreamResponse>,
) {
  const requests = createAsyncQueue<AppendEventsStreamRequest>();
  // Read at once and all the time, as a server reads its handler's answers.
  const received = createAsyncQueue<AppendEventsStreamResponse>();
  void (async () => {
    try {
      for await (const answer of serve(requests)) received.push(answer);
      received.end();
    } catch (err) {
      received.fail(err);
    }
  })();
  const answers = received[Symbol.asyncIterator]();
  return {
    send: (init: RequestInit) => requests.push(create(AppendEventsStreamRequestSchema, init)),
    end: () => requests.end(),
    next: async () => {
      const next = await answers.next();
      if (next.done) throw new Error("the stream ended");
      return next.value;
    },
    done: async () => (await answers.next()).done,
  };
}

const appendOf = (sessionId: string, expectedLastSeq: bigint) =>
  ({ sessionId, expectedLastSeq, events: [userMessage("x")] }) as AppendEventsRequest;

describe("serveAppendStream (the stream's logic, with a stand-in append)", () => {
  // Appends that settle only when the test says so, recorded in the order started.
  const controlled = () => {
    const started: { append: AppendEventsRequest; settle: (lastSeq?: bigint, err?: Error) => void }[] = [];
    const run = (append: AppendEventsRequest) =>
      new Promise<AppendEventsResponse>((resolve, reject) => {
        started.push({
          append,
          settle: (lastSeq = 0n, err) => (err ? reject(err) : resolve(create(AppendEventsResponseSchema, { lastSeq }))),
        });
      });
    return { started, run };
  };
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it("starts every append as it arrives, in order, and answers each by call_id as it settles", async () => {
    const { started, run } = controlled();
    const s = openStream((requests) => serveAppendStream(requests, run));
    s.send({ callId: 7n, append: appendOf("a", 1n) });
    s.send({ callId: 8n, append: appendOf("b", 1n) });
    s.send({ callId: 9n, append: appendOf("a", 2n) });
    await settled();
    // All three started before any settled: appends do not wait for each other.
    expect(started.map((x) => `${x.append.sessionId}@${x.append.expectedLastSeq}`)).toEqual(["a@1", "b@1", "a@2"]);
    started[1]?.settle(2n);
    expect(await s.next()).toMatchObject({ callId: 8n, result: { case: "appended", value: { lastSeq: 2n } } });
    started[0]?.settle(undefined, new ConnectError("log moved on", Code.Aborted));
    expect(await s.next()).toMatchObject({
      callId: 7n,
      result: { case: "error", value: { code: Code.Aborted, message: "log moved on" } },
    });
    s.end();
    started[2]?.settle(3n);
    expect(await s.next()).toMatchObject({ callId: 9n, result: { case: "appended" } });
    expect(await s.done()).toBe(true);
  });

  it("answers a request without an append with INVALID_ARGUMENT and goes on", async () => {
    const { started, run } = controlled();
    const s = openStream((requests) => serveAppendStream(requests, run));
    s.send({ callId: 1n });
    expect(await s.next()).toMatchObject({
      callId: 1n,
      result: { case: "error", value: { code: Code.InvalidArgument, message: "append: missing" } },
    });
    s.send({ callId: 2n, append: appendOf("a", 1n) });
    await settled();
    started[0]?.settle(2n);
    expect(await s.next()).toMatchObject({ callId: 2n, result: { case: "appended" } });
  });

  it("fails the stream when a call_id is reused while its append is unanswered", async () => {
    const { run } = controlled();
    const s = openStream((requests) => serveAppendStream(requests, run));
    s.send({ callId: 5n, append: appendOf("a", 1n) });
    s.send({ callId: 5n, append: appendOf("a", 2n) });
    const err = await s.next().catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as ConnectError).rawMessage).toContain("call_id 5 is already in use");
  });

  it("stops reading at its limit of appends in flight until one is answered", async () => {
    const { started, run } = controlled();
    const s = openStream((requests) => serveAppendStream(requests, run, { maxInFlight: 2 }));
    for (let i = 1n; i <= 4n; i++) s.send({ callId: i, append: appendOf(`s${i}`, 1n) });
    await settled();
    expect(started).toHaveLength(2);
    started[0]?.settle(2n);
    expect(await s.next()).toMatchObject({ callId: 1n });
    await settled();
    expect(started).toHaveLength(3);
  });

  it("ended from outside: reads no more, answers what it started, then fails with the reason", async () => {
    const { started, run } = controlled();
    let end: ((reason: Error) => void) | undefined;
    let unregistered = false;
    const register = (e: (reason: Error) => void) => {
      end = e;
      return () => {
        unregistered = true;
      };
    };
    const s = openStream((requests) => serveAppendStream(requests, run, { register }));
    s.send({ callId: 1n, append: appendOf("a", 1n) });
    const first = s.next();
    await settled();
    end?.(new StoreUnavailableError("the session store is shutting down"));
    s.send({ callId: 2n, append: appendOf("a", 2n) });
    await settled();
    expect(started).toHaveLength(1);
    started[0]?.settle(2n);
    expect(await first).toMatchObject({ callId: 1n, result: { case: "appended" } });
    const err = await s.next().catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unavailable });
    expect(unregistered).toBe(true);
  });
});

describe("AppendEventsStream on the session service", () => {
  let nats: NatsServer;
  let store: SessionStore;
  beforeAll(async () => {
    nats = await startNatsServer();
    store = await startStore(nats.url, { maxLogBytes: 4096 });
    harness = as("harness-0123456789");
  });
  afterAll(async () => {
    await store?.close();
    await nats?.stop();
  });

  const grants = [
    { token: "client-a-0123456789", role: "client", tenant: "a" },
    { token: "harness-0123456789", role: "harness", tenant: "" },
  ];
  // The real handlers (serialization included) behind the real auth interceptor, in-process.
  const as = (token: string, headers: Record<string, string> = {}) => clientWithToken(store, grants, token, headers);
  let harness: ReturnType<typeof as>;

  it("applies one session's appends in the order sent, without waiting for answers", async () => {
    await harness.createSession({ sessionId: "as-order", config: testConfig() });
    await harness.createSession({ sessionId: "as-other", config: testConfig() });
    const s = openStream((requests) => harness.appendEventsStream(requests));
    // Each append is fenced on the one before: any reordering would be ABORTED.
    for (let i = 0n; i < 20n; i++) {
      s.send({ callId: i, append: appendOf("as-order", 1n + i) });
      s.send({ callId: 100n + i, append: appendOf("as-other", 1n + i) });
    }
    const answers = new Map<bigint, AppendEventsStreamResponse>();
    for (let i = 0; i < 40; i++) {
      const answer = await s.next();
      answers.set(answer.callId, answer);
    }
    for (let i = 0n; i < 20n; i++) {
      for (const id of [i, 100n + i]) {
        const answer = answers.get(id);
        expect(answer?.result.case).toBe("appended");
        if (answer?.result.case === "appended") expect(answer.result.value.events[0]?.seq).toBe(2n + i);
      }
    }
    s.end();
    expect(await s.done()).toBe(true);
    expect((await harness.getSession({ sessionId: "as-order" })).session?.lastSeq).toBe(21n);
  });

  it("answers a failed append with AppendEvents' error, details included, and goes on", async () => {
    await harness.createSession({ sessionId: "as-errors", config: testConfig() });
    const s = openStream((requests) => harness.appendEventsStream(requests));
    const written = userMessage("first");
    s.send({ callId: 1n, append: { sessionId: "as-errors", expectedLastSeq: 1n, events: [written] } });
    expect(await s.next()).toMatchObject({ callId: 1n, result: { case: "appended", value: { lastSeq: 2n } } });

    s.send({ callId: 2n, append: appendOf("as-errors", 1n) });
    const fenced = await s.next();
    expect(fenced).toMatchObject({ callId: 2n, result: { case: "error", value: { code: Code.Aborted } } });
    if (fenced.result.case === "error") {
      expect(fenced.result.value.message).toBe(
        `session "as-errors": expected_last_seq is 1 but the log's last seq is 2; nothing was written (another writer appended first)`,
      );
    }

    s.send({ callId: 3n, append: appendOf("bad.id", 1n) });
    const bad = await s.next();
    expect(bad).toMatchObject({ result: { case: "error", value: { code: Code.InvalidArgument } } });
    if (bad.result.case === "error") expect(bad.result.value.message).toContain("bad.id");

    // A retry whose first answer was lost: the original seq, though the fence has moved.
    s.send({ callId: 4n, append: { sessionId: "as-errors", expectedLastSeq: 1n, events: [written] } });
    expect(await s.next()).toMatchObject({ callId: 4n, result: { case: "appended", value: { lastSeq: 2n } } });

    // Past the log's size limit: RESOURCE_EXHAUSTED with its google.rpc.QuotaFailure.
    const big = userMessage("y".repeat(5000));
    s.send({ callId: 5n, append: { sessionId: "as-errors", expectedLastSeq: 2n, events: [big] } });
    const full = await s.next();
    expect(full).toMatchObject({ callId: 5n, result: { case: "error", value: { code: Code.ResourceExhausted } } });
    if (full.result.case === "error") {
      expect(full.result.value.details.map((d) => d.typeUrl)).toEqual(["type.googleapis.com/google.rpc.QuotaFailure"]);
    }

    s.send({ callId: 6n, append: appendOf("as-errors", 2n) });
    expect(await s.next()).toMatchObject({ callId: 6n, result: { case: "appended", value: { lastSeq: 3n } } });
    expect((await harness.getEvents({ sessionId: "as-errors" })).events.map((e) => e.seq)).toEqual([1n, 2n, 3n]);
    s.end();
    expect(await s.done()).toBe(true);
  });

  it("is refused to callers that may not append, and confines each append to its tenant", async () => {
    const client = openStream((requests) => as("client-a-0123456789").appendEventsStream(requests));
    client.send({ callId: 1n, append: appendOf("as-anything", 1n) });
    const refused = await client.next().catch((e: unknown) => ConnectError.from(e));
    expect(refused).toMatchObject({ code: Code.PermissionDenied });

    await harness.createSession({ sessionId: "as-tenant-a", config: testConfig(), tenant: "a" });
    const s = openStream((requests) => harness.appendEventsStream(requests));
    s.send({ callId: 1n, append: appendOf("as-tenant-a", 1n), tenant: "b" });
    expect(await s.next()).toMatchObject({
      result: { case: "error", value: { code: Code.NotFound, message: 'session "as-tenant-a" not found' } },
    });
    s.send({ callId: 2n, append: appendOf("as-tenant-a", 1n), tenant: "a" });
    expect(await s.next()).toMatchObject({ callId: 2n, result: { case: "appended" } });

    // A stream confined by its header: an append may not name another tenant.
    const confined = openStream((requests) =>
      as("harness-0123456789", { [tenantHeader]: "a" }).appendEventsStream(requests),
    );
    confined.send({ callId: 1n, append: appendOf("as-tenant-a", 2n), tenant: "b" });
    expect(await confined.next()).toMatchObject({ result: { case: "error", value: { code: Code.PermissionDenied } } });
    confined.send({ callId: 2n, append: appendOf("as-tenant-a", 2n) });
    expect(await confined.next()).toMatchObject({ callId: 2n, result: { case: "appended" } });
    for (const stream of [s, confined]) {
      stream.end();
      expect(await stream.done()).toBe(true);
    }
  });

  it("ends with UNAVAILABLE when the store ends its streams (shutdown), after answering what it started", async () => {
    await harness.createSession({ sessionId: "as-shutdown", config: testConfig() });
    const s = openStream((requests) => harness.appendEventsStream(requests));
    s.send({ callId: 1n, append: appendOf("as-shutdown", 1n) });
    expect(await s.next()).toMatchObject({ callId: 1n, result: { case: "appended" } });
    const ending = store.endStreams();
    const err = await s.next().catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unavailable });
    await ending;
    expect(store.openStreams).toBe(0);
  });
});
