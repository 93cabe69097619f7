import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { EventSchema, EventType, type RunState, SessionService, type StopReason } from "@reins/proto";
import { appendFenced, errorInfoOf, isAppendFenced } from "@reins/service-kit";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import { startStore, testConfig, userMessage } from "../testing/fixtures.js";
import { createSessionServiceImpl } from "./service.js";

let nats: NatsServer;
let store: SessionStore;
beforeAll(async () => {
  nats = await startNatsServer();
  store = await startStore(nats.url, { maxMessageBytes: 16 * 1024 });
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

// The service in-process: Connect's router transport runs the real handlers,
// serialization included, without a socket.
const client = (useBinaryFormat = true) =>
  createClient(
    SessionService,
    createRouterTransport(({ service }) => service(SessionService, createSessionServiceImpl(store)), {
      transport: { useBinaryFormat },
    }),
  );

async function failure(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
  return { code: err.code, message: err.rawMessage };
}

describe("SessionService over a router transport", () => {
  it("runs a session through the RPCs", async () => {
    const c = client();
    const created = await c.createSession({ sessionId: "rpc-1", config: testConfig(), title: "t" });
    expect(created.session?.lastSeq).toBe(1n);
    const appended = await c.appendEvents({ sessionId: "rpc-1", expectedLastSeq: 1n, events: [userMessage("hi")] });
    expect(appended.lastSeq).toBe(2n);
    expect(appended.events[0]?.seq).toBe(2n);
    expect(appended.events[0]?.time).toBeDefined();
    const page = await c.getEvents({ sessionId: "rpc-1", types: [EventType.USER_MESSAGE] });
    expect(page.events.map((e) => e.id)).toEqual([appended.events[0]?.id]);
    expect(page).toMatchObject({ nextAfterSeq: 2n, lastSeq: 2n });
    expect((await c.getSession({ sessionId: "rpc-1" })).session?.title).toBe("t");
    expect((await c.listSessions({})).sessions.map((s) => s.sessionId)).toContain("rpc-1");

    const abort = new AbortController();
    const seen: bigint[] = [];
    const streaming = (async () => {
      for await (const res of c.streamEvents({ sessionId: "rpc-1", afterSeq: 1n }, { signal: abort.signal })) {
        seen.push(res.event?.seq ?? 0n);
        if (seen.length === 1)
          await c.appendEvents({ sessionId: "rpc-1", expectedLastSeq: 2n, events: [userMessage("live")] });
        if (seen.length === 2) abort.abort();
      }
    })().catch((e: unknown) => {
      if (ConnectError.from(e).code !== Code.Canceled) throw e;
    });
    await streaming;
    expect(seen).toEqual([2n, 3n]);
    expect((await c.deleteSession({ sessionId: "rpc-1" })).purgedEvents).toBe(3n);
  });

  it("gives binary clients (stored bytes, spliced) and JSON clients the same events", async () => {
    const binary = client(true);
    const json = client(false);
    await binary.createSession({ sessionId: "codecs", config: testConfig() });
    await binary.appendEvents({
      sessionId: "codecs",
      expectedLastSeq: 1n,
      events: [userMessage("a"), userMessage("b"), userMessage("c")],
    });
    const expected = (await store.getEvents("codecs")).events;
    for (const c of [binary, json]) {
      expect((await c.getEvents({ sessionId: "codecs" })).events).toEqual(expected);
      expect((await c.getEvents({ sessionId: "codecs", afterSeq: 1n, limit: 2 })).events).toEqual(expected.slice(1, 3));
      const streamed = [];
      const abort = new AbortController();
      try {
        for await (const res of c.streamEvents({ sessionId: "codecs" }, { signal: abort.signal })) {
          streamed.push(res.event);
          if (streamed.length === expected.length) abort.abort();
        }
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Canceled) throw err;
      }
      expect(streamed).toEqual(expected);
    }
  });

  it("says INVALID_ARGUMENT with what is wrong", async () => {
    const c = client();
    await c.createSession({ sessionId: "bad-input", config: testConfig() });
    const cases: [() => Promise<unknown>, string][] = [
      [
        () => c.getSession({ sessionId: "a.b" }),
        `session_id "a.b" is invalid: use 1-64 characters from A-Z a-z 0-9 _ - (no '.', '*', '>' or spaces)`,
      ],
      [() => c.getEvents({ sessionId: "" }), "session_id is required"],
      [() => c.createSession({ sessionId: "no-config" }), "config is required: the session.created event records it"],
      [
        () => c.createSession({ sessionId: "long-title", config: testConfig(), title: "x".repeat(201) }),
        "title is 201 characters, over the limit of 200",
      ],
      [
        () =>
          c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 1n, events: [create(EventSchema, { id: "e1" })] }),
        'events[0] (id "e1") has no payload: set exactly one event kind',
      ],
      [
        () => c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 1n, events: [userMessage("x", "has space")] }),
        'events[0].id "has space" is invalid: use 1-128 characters from A-Z a-z 0-9 _ - . :',
      ],
      [
        () => c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 1n, events: [userMessage("x", "")] }),
        "events[0].id is required (a unique id such as a UUIDv7)",
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: [userMessage("x", "same"), userMessage("y", "same")],
          }),
        'events[1].id "same" appears twice in the batch',
      ],
      [
        () => c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 1n, events: [] }),
        "events is empty: append at least one event",
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: Array.from({ length: 101 }, (_, i) => userMessage(`${i}`)),
          }),
        "batch of 101 events is over the limit of 100: split it into several appends",
      ],
      [
        () => c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 0n, events: [userMessage("x")] }),
        "expected_last_seq must be at least 1: every session starts with its session.created event at seq 1",
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: [
              create(EventSchema, {
                id: "again",
                payload: { case: "sessionCreated", value: { config: testConfig() } },
              }),
            ],
          }),
        'events[0] (id "again") is a session.created event: only CreateSession writes it',
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: [
              create(EventSchema, { id: "s42", payload: { case: "sessionStatus", value: { state: 42 as RunState } } }),
            ],
          }),
        'events[0] (id "s42"): session_status.state 42 is not a run state (1-4)',
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: [
              create(EventSchema, {
                id: "s999",
                payload: { case: "sessionStatus", value: { state: 2, stopReason: 999 as StopReason } },
              }),
            ],
          }),
        'events[0] (id "s999"): session_status.stop_reason 999 is not a stop reason',
      ],
      [
        () =>
          c.appendEvents({
            sessionId: "bad-input",
            expectedLastSeq: 1n,
            events: [
              create(EventSchema, {
                id: "tool",
                payload: { case: "agentToolUseStarted", value: { toolUseId: "t1", name: "sh", inputJson: "[]" } },
              }),
            ],
          }),
        'events[0] (id "tool"): agent_tool_use_started.input_json is an array: tool input must be a JSON object',
      ],
      [() => c.getEvents({ sessionId: "bad-input", limit: 1001 }), "limit 1001 is over the maximum of 1000"],
      [
        () => c.getEvents({ sessionId: "bad-input", types: [EventType.UNSPECIFIED] }),
        "types[0] = 0 is not an event type",
      ],
      [() => c.listSessions({ pageSize: 5000 }), "page_size 5000 is over the maximum of 1000"],
      [() => c.listSessions({ state: 42 as RunState }), "state 42 is not a run state (0 = all, 1-4)"],
      [() => c.listSessions({ pageToken: "garbage" }), 'page_token "garbage" is invalid: pass a next_page_token'],
    ];
    for (const [call, message] of cases) {
      expect(await failure(call())).toEqual({ code: Code.InvalidArgument, message });
    }
    // Too many bytes: the limit is the store's max message size less header room.
    const big = await failure(
      c.appendEvents({ sessionId: "bad-input", expectedLastSeq: 1n, events: [userMessage("x".repeat(20_000))] }),
    );
    expect(big.code).toBe(Code.InvalidArgument);
    expect(big.message).toMatch(
      /^batch encodes to \d+ bytes, over the limit of 15872 bytes: split it into smaller appends$/,
    );
    expect((await c.getEvents({ sessionId: "bad-input" })).lastSeq).toBe(1n); // nothing half-written
  });

  it("says NOT_FOUND for unknown sessions on every RPC", async () => {
    const c = client();
    const message = 'session "nobody" not found';
    const notFound = { code: Code.NotFound, message };
    expect(await failure(c.getSession({ sessionId: "nobody" }))).toEqual(notFound);
    expect(await failure(c.getEvents({ sessionId: "nobody" }))).toEqual(notFound);
    expect(
      await failure(c.appendEvents({ sessionId: "nobody", expectedLastSeq: 1n, events: [userMessage("x")] })),
    ).toEqual(notFound);
    expect(await failure(c.deleteSession({ sessionId: "nobody" }))).toEqual(notFound);
    const stream = c.streamEvents({ sessionId: "nobody" });
    expect(await failure(stream[Symbol.asyncIterator]().next())).toEqual(notFound);
  });

  it("says ABORTED with the current last seq to a fenced writer, ALREADY_EXISTS to a second create", async () => {
    const c = client();
    await c.createSession({ sessionId: "rpc-fence", config: testConfig(), eventId: "c1" });
    await c.appendEvents({ sessionId: "rpc-fence", expectedLastSeq: 1n, events: [userMessage("a")] });
    expect(
      await failure(c.appendEvents({ sessionId: "rpc-fence", expectedLastSeq: 1n, events: [userMessage("b")] })),
    ).toEqual({
      code: Code.Aborted,
      message:
        'session "rpc-fence": expected_last_seq is 1 but the log\'s last seq is 2; nothing was written (another writer appended first)',
    });
    // The ErrorInfo marks it as the service's fence, not a reset connection.
    const fenced = await c
      .appendEvents({ sessionId: "rpc-fence", expectedLastSeq: 1n, events: [userMessage("b")] })
      .catch((e: unknown) => ConnectError.from(e));
    expect(fenced instanceof ConnectError && isAppendFenced(fenced)).toBe(true);
    expect(fenced instanceof ConnectError && errorInfoOf(fenced)).toEqual({
      ...appendFenced,
      metadata: { session_id: "rpc-fence", expected_last_seq: "1", last_seq: "2" },
    });
    const maxUint64 = 2n ** 64n - 1n;
    expect(
      await failure(c.appendEvents({ sessionId: "rpc-fence", expectedLastSeq: maxUint64, events: [userMessage("c")] })),
    ).toEqual({
      code: Code.Aborted,
      message: `session "rpc-fence": expected_last_seq is ${maxUint64} but the log's last seq is 2; nothing was written (another writer appended first)`,
    });
    expect(await c.getEvents({ sessionId: "rpc-fence", afterSeq: maxUint64 })).toMatchObject({
      events: [],
      nextAfterSeq: maxUint64,
      lastSeq: 2n,
    });
    expect(await failure(c.createSession({ sessionId: "rpc-fence", config: testConfig(), eventId: "c2" }))).toEqual({
      code: Code.AlreadyExists,
      message: 'session "rpc-fence" already exists (created by event "c1")',
    });
  });
});
