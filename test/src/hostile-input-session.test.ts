import { create } from "@bufbuild/protobuf";
import { type Event, EventSchema, EventType, RunState, SessionService } from "@reins/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  brokenEnvelopes,
  connectJson,
  garbageMessages,
  grpcFrame,
  healthOf,
  hostileIds,
  invalidIdMessage,
  rawGrpc,
  type Status,
  statusOf,
  streamStatusOf,
  wrongTypeJsons,
} from "./support/hostile.js";
import { useSessionDaemon } from "./support/session-daemon.js";

// Hostile input against the built session daemon on a real nats-server. Every call must
// get the precise status code and a message that says what is wrong; after each test the
// daemon still reports SERVING and neither the victim session's log nor the set of
// sessions has changed.

const fixture = useSessionDaemon();
const maxUint64 = 2n ** 64n - 1n;
const mb = (n: number) => "x".repeat(Math.round(n * 1024 * 1024));
const message = (id: string, text = "hi") =>
  create(EventSchema, { id, payload: { case: "userMessage", value: { text } } });
const status = (id: string, state: number, stopReason = 0) =>
  create(EventSchema, { id, payload: { case: "sessionStatus", value: { state, stopReason } } });

let before: Awaited<ReturnType<ReturnType<typeof fixture>["snapshot"]>>;
beforeEach(async () => {
  before = await fixture().snapshot();
});
afterEach(async () => {
  const { daemon, snapshot } = fixture();
  expect(await healthOf(daemon.url, SessionService.typeName)).toBe("SERVING");
  expect(await snapshot()).toEqual(before);
});

const invalid = (pattern: RegExp) => ({ code: "INVALID_ARGUMENT", message: expect.stringMatching(pattern) });

let scratches = 0;
/**
 * A fresh session (user message, idle status: last seq 3) for checks that the service
 * may wrongly accept, so that a write lands there and not in the victim. `log()` reads it.
 */
async function scratch() {
  const { client } = fixture();
  const sessionId = `scratch-${++scratches}`;
  await client.createSession({ sessionId, config: { model: "m" } });
  await client.appendEvents({
    sessionId,
    expectedLastSeq: 1n,
    events: [message(`${sessionId}-1`), status(`${sessionId}-2`, RunState.IDLE)],
  });
  return { sessionId, log: async () => (await client.getEvents({ sessionId })).events };
}

describe("SessionService: session ids", () => {
  // Every RPC that names a session, with `id` in its session_id.
  const byId = (id: string): Record<string, () => Promise<Status>> => {
    const { client } = fixture();
    return {
      CreateSession: () => statusOf(client.createSession({ sessionId: id, config: { model: "m" } })),
      GetSession: () => statusOf(client.getSession({ sessionId: id })),
      AppendEvents: () =>
        statusOf(client.appendEvents({ sessionId: id, expectedLastSeq: 1n, events: [message("e-1")] })),
      GetEvents: () => statusOf(client.getEvents({ sessionId: id })),
      StreamEvents: () => streamStatusOf((signal) => client.streamEvents({ sessionId: id }, { signal })),
      DeleteSession: () => statusOf(client.deleteSession({ sessionId: id })),
    };
  };

  it.each(hostileIds)("refuses an id with %s in every RPC with INVALID_ARGUMENT", async (_label, id) => {
    for (const [rpc, call] of Object.entries(byId(id))) {
      const got = await call();
      expect({ rpc, ...got }).toMatchObject({ rpc, ...invalid(invalidIdMessage) });
      // A 1 MB id is not echoed back whole.
      expect(got.message.length).toBeLessThan(300);
    }
  });

  it("says the id is required when it is empty (CreateSession generates one instead)", async () => {
    for (const [rpc, call] of Object.entries(byId(""))) {
      if (rpc === "CreateSession") continue;
      expect({ rpc, ...(await call()) }).toMatchObject({
        rpc,
        code: "INVALID_ARGUMENT",
        message: "session_id is required",
      });
    }
  });

  it("answers NOT_FOUND for a well-formed id that has no session", async () => {
    for (const [rpc, call] of Object.entries(byId("never-created"))) {
      if (rpc === "CreateSession") continue;
      expect({ rpc, ...(await call()) }).toMatchObject({
        rpc,
        code: "NOT_FOUND",
        message: 'session "never-created" not found',
      });
    }
  });
});

describe("SessionService.CreateSession", () => {
  const createWith = (fields: Record<string, unknown>) =>
    statusOf(fixture().client.createSession({ sessionId: "fresh", config: { model: "m" }, ...fields }));

  it("requires a config, and bounds the title", async () => {
    expect(await statusOf(fixture().client.createSession({ sessionId: "fresh" }))).toEqual(
      invalid(/^config is required/),
    );
    expect(await createWith({ title: "t".repeat(201) })).toEqual(
      invalid(/^title is 201 characters, over the limit of 200$/),
    );
    expect(await createWith({ title: mb(1) })).toEqual(invalid(/^title is 1048576 characters, over the limit of 200$/));
  });

  it.each([
    ["*", "*"],
    [">", ">"],
    ["a NUL byte", "e\u0000"],
    ["unicode", "é"],
    ["129 characters", "e".repeat(129)],
  ])("refuses an event_id with %s", async (_label, eventId) => {
    expect(await createWith({ eventId })).toEqual(invalid(/^event_id ".*"(\.\.\.)? is invalid: use 1-128 characters/s));
  });

  it("refuses a config too large for one log entry, and one too large to read at all", async () => {
    expect(await createWith({ config: { model: "m", systemPrompt: mb(1.5) } })).toEqual(
      invalid(/^batch encodes to \d+ bytes, over the limit of \d+ bytes/),
    );
    expect(await createWith({ config: { model: "m", systemPrompt: mb(3) } })).toEqual({
      code: "RESOURCE_EXHAUSTED",
      message: expect.stringMatching(/message size \d+ is larger than configured readMaxBytes \d+/),
    });
  });

  it("answers ALREADY_EXISTS for an existing id with another created-event id", async () => {
    const { client, victim } = fixture();
    expect(
      await statusOf(client.createSession({ sessionId: victim, config: { model: "m" }, eventId: "other" })),
    ).toEqual({ code: "ALREADY_EXISTS", message: expect.stringMatching(/^session "victim" already exists/) });
  });
});

describe("SessionService.ListSessions", () => {
  const list = (req: Record<string, unknown>) => statusOf(fixture().client.listSessions(req));

  it("bounds page_size and rejects page tokens it did not issue", async () => {
    expect(await list({ pageSize: 1001 })).toEqual(invalid(/^page_size 1001 is over the maximum of 1000$/));
    expect(await list({ pageSize: 4294967295 })).toEqual(invalid(/^page_size 4294967295 is over the maximum/));
    expect(await list({ pageToken: "garbage" })).toEqual(invalid(/^page_token "garbage" is invalid/));
    expect(await list({ pageToken: mb(1) })).toEqual(invalid(/^page_token ".*" is invalid/));
    expect(await list({ pageToken: "\u0000\uffff" })).toEqual(invalid(/^page_token ".*" is invalid/));
  });

  it("rejects an unknown run state in the filter", async () => {
    expect(await list({ state: 42 })).toEqual(invalid(/state 42/));
  });
});

describe("SessionService.AppendEvents", () => {
  const append = (expectedLastSeq: bigint, events: Event[]) =>
    statusOf(fixture().client.appendEvents({ sessionId: fixture().victim, expectedLastSeq, events }));

  it("refuses an expected_last_seq of 0 and fences any other wrong one with ABORTED", async () => {
    expect(await append(0n, [message("n-1")])).toEqual(invalid(/^expected_last_seq must be at least 1/));
    expect(await append(5n, [message("n-1")])).toEqual({
      code: "ABORTED",
      message:
        'session "victim": expected_last_seq is 5 but the log\'s last seq is 4; nothing was written (another writer appended first)',
    });
    expect(await append(1n, [message("n-1")])).toMatchObject({ code: "ABORTED" });
  });

  it("names a huge expected_last_seq exactly in its ABORTED message", async () => {
    const { client } = fixture();
    const { sessionId, log } = await scratch();
    const before = await log();
    const got = await statusOf(
      client.appendEvents({ sessionId, expectedLastSeq: maxUint64, events: [message("n-1")] }),
    );
    expect(await log()).toEqual(before);
    expect(got).toEqual({
      code: "ABORTED",
      message: expect.stringContaining(`expected_last_seq is ${maxUint64} but the log's last seq is 3`),
    });
  });

  it("bounds the batch and checks every event's id and payload", async () => {
    expect(await append(4n, [])).toEqual(invalid(/^events is empty/));
    const many = Array.from({ length: 101 }, (_, i) => message(`n-${i}`));
    expect(await append(4n, many)).toEqual(invalid(/^batch of 101 events is over the limit of 100/));
    expect(await append(4n, [message("")])).toEqual(invalid(/^events\[0\]\.id is required/));
    for (const id of ["*", ">", "a b", "a\u0000b", "é", "e".repeat(129), mb(1)]) {
      expect(await append(4n, [message("ok-1"), message(id)])).toEqual(
        invalid(/^events\[1\]\.id ".*"(\.\.\.)? is invalid/s),
      );
    }
    expect(await append(4n, [message("d-1"), message("d-1")])).toEqual(invalid(/^events\[1\]\.id "d-1" appears twice/));
    expect(await append(4n, [create(EventSchema, { id: "p-1" })])).toEqual(
      invalid(/^events\[0\] \(id "p-1"\) has no payload/),
    );
    const created = create(EventSchema, {
      id: "c-1",
      payload: { case: "sessionCreated", value: { config: { model: "m" } } },
    });
    expect(await append(4n, [created])).toEqual(invalid(/only CreateSession writes it/));
  });

  it("refuses a batch that mixes logged and new ids (a retry must resend the same batch)", async () => {
    expect(await append(4n, [message("victim-1"), message("n-2")])).toEqual(
      invalid(/^events "victim-1" \(seq 2\) are already in the log but "n-2" are not/),
    );
  });

  it("refuses a batch too large for one log entry, and one too large to read", async () => {
    expect(await append(4n, [message("big-1", mb(1.5))])).toEqual(
      invalid(/^batch encodes to \d+ bytes, over the limit/),
    );
    expect(await append(4n, [message("big-1", mb(3))])).toEqual({
      code: "RESOURCE_EXHAUSTED",
      message: expect.stringMatching(/message size \d+ is larger than configured readMaxBytes \d+/),
    });
  });

  it("rejects unknown enum values in a payload (run state 42, stop reason 999)", async () => {
    const { client } = fixture();
    const { sessionId, log } = await scratch();
    const before = await log();
    const appendTo = (event: Event) =>
      statusOf(client.appendEvents({ sessionId, expectedLastSeq: 3n, events: [event] }));
    const got = [await appendTo(status("s-1", 42)), await appendTo(status("s-2", RunState.IDLE, 999))];
    expect(await log()).toEqual(before);
    expect(got).toEqual([invalid(/state 42/), invalid(/stop_reason 999/)]);
  });

  it("rejects tool input that is not a JSON object document", async () => {
    const { client } = fixture();
    const { sessionId, log } = await scratch();
    const before = await log();
    const got: Status[] = [];
    for (const inputJson of ["{oops", "[]", "42", ""]) {
      const started = create(EventSchema, {
        id: `t-${inputJson.length}`,
        payload: { case: "agentToolUseStarted", value: { toolUseId: "toolu_1", name: "sh", inputJson } },
      });
      got.push(await statusOf(client.appendEvents({ sessionId, expectedLastSeq: 3n, events: [started] })));
    }
    expect(await log()).toEqual(before);
    expect(got).toEqual(got.map(() => invalid(/input_json/)));
  });
});

describe("SessionService.GetEvents and StreamEvents", () => {
  it("bounds the limit and rejects unknown event types in the filter", async () => {
    const { client, victim } = fixture();
    expect(await statusOf(client.getEvents({ sessionId: victim, limit: 1001 }))).toEqual(
      invalid(/^limit 1001 is over the maximum of 1000$/),
    );
    for (const type of [999, EventType.UNSPECIFIED, -1]) {
      expect(await statusOf(client.getEvents({ sessionId: victim, types: [EventType.USER_MESSAGE, type] }))).toEqual(
        invalid(new RegExp(`^types\\[1\\] = ${type} is not an event type$`)),
      );
      const streamed = await streamStatusOf((signal) =>
        client.streamEvents({ sessionId: victim, types: [type] }, { signal }),
      );
      expect(streamed).toEqual({
        ...invalid(new RegExp(`^types\\[0\\] = ${type} is not an event type$`)),
        received: 0,
      });
    }
  });

  it("reads nothing after the last seq and says where the log ends", async () => {
    const { client, victim } = fixture();
    const page = await client.getEvents({ sessionId: victim, afterSeq: 100n });
    expect(page).toMatchObject({ events: [], nextAfterSeq: 100n, lastSeq: 4n });
  });

  it("answers an after_seq of 2^64-1 with an empty page, not an internal error", async () => {
    const { client, victim } = fixture();
    const page = await client.getEvents({ sessionId: victim, afterSeq: maxUint64 });
    expect(page).toMatchObject({ events: [], nextAfterSeq: maxUint64, lastSeq: 4n });
  });

  it("keeps a stream open (no error, no event) after the last seq", async () => {
    const { client, victim } = fixture();
    for (const afterSeq of [100n, maxUint64]) {
      const got = await streamStatusOf((signal) =>
        client.streamEvents(
          { sessionId: victim, afterSeq },
          { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) },
        ),
      );
      // The client leaves after a second: the server had nothing to say and no error.
      expect(got).toMatchObject({ code: expect.stringMatching(/^(CANCELED|DEADLINE_EXCEEDED)$/), received: 0 });
    }
  });
});

describe("SessionService on the wire", () => {
  const methods = SessionService.methods.map((m) => [m.name, m.methodKind !== "unary"] as const);
  // A client stream may carry any number of messages, each answered on its own.
  const clientStreaming = new Set(
    SessionService.methods.filter((m) => m.methodKind === "bidi_streaming").map((m) => m.name),
  );
  const path = (method: string) => `/${SessionService.typeName}/${method}`;

  // What every RPC answers to each undecodable message.
  const garbageOutcomes = async () => {
    const { daemon } = fixture();
    const outcomes: Array<{ method: string; label: string; code: string; message: string }> = [];
    for (const [method] of methods) {
      for (const [label, bytes] of garbageMessages) {
        const { code, message } = await rawGrpc(daemon.url, path(method), grpcFrame(bytes));
        outcomes.push({ method, label, code, message });
      }
    }
    return outcomes;
  };

  it("every RPC answers bytes that do not decode with INVALID_ARGUMENT, naming the problem, and stays up", async () => {
    for (const outcome of await garbageOutcomes()) {
      expect(outcome).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^parse binary: /) });
    }
  });

  it.each(methods)("%s: a broken gRPC envelope is refused, saying what is wrong", async (method) => {
    const { daemon } = fixture();
    for (const { label, body, message, want } of brokenEnvelopes) {
      const got = await rawGrpc(daemon.url, path(method), body);
      if (clientStreaming.has(method) && (label === "no message" || label === "two messages")) {
        // No append at all, or two empty ones, each answered "append: missing".
        expect({ label, code: got.code, messages: got.messages }).toEqual({
          label,
          code: "OK",
          messages: label === "no message" ? 0 : 1,
        });
        continue;
      }
      expect({ label, code: got.code, message: got.message }).toEqual({
        label,
        code: want,
        message: expect.stringMatching(message),
      });
    }
  });

  it.each(methods)("%s: an empty message reads as all defaults and gets INVALID_ARGUMENT", async (method) => {
    const { daemon } = fixture();
    const got = await rawGrpc(daemon.url, path(method), grpcFrame(new Uint8Array()));
    if (clientStreaming.has(method)) {
      // The stream goes on; the append is answered "append: missing" (append-stream.test.ts).
      expect(got).toMatchObject({ code: "OK", messages: 1 });
    } else if (method === "ListSessions" || method === "CreateSession") {
      // Both have a meaning for all defaults: the first page / "config is required".
      expect(got.code).toBe(method === "ListSessions" ? "OK" : "INVALID_ARGUMENT");
    } else {
      expect(got).toMatchObject({ code: "INVALID_ARGUMENT", message: "session_id is required" });
    }
  });

  // Requests that would succeed (or fail only on purpose-made grounds) but for the broken field.
  const bases: Record<string, Record<string, unknown>> = {
    CreateSession: { sessionId: "scratch-json", config: { model: "m" } },
    GetSession: { sessionId: "victim" },
    ListSessions: {},
    AppendEvents: { sessionId: "victim", expectedLastSeq: "4", events: [{ id: "json-1", userMessage: { text: "x" } }] },
    AppendEventsStream: {
      callId: "1",
      append: { sessionId: "victim", expectedLastSeq: "4", events: [{ id: "json-2", userMessage: { text: "x" } }] },
    },
    GetEvents: { sessionId: "victim" },
    StreamEvents: { sessionId: "victim" },
    DeleteSession: { sessionId: "scratch-json" },
  };

  it.each(methods)("%s: JSON of the wrong types gets INVALID_ARGUMENT naming the field", async (method, streaming) => {
    const { daemon } = fixture();
    const desc = SessionService.methods.find((m) => m.name === method)?.input;
    if (!desc) throw new Error(`no method ${method}`);
    for (const { json, names } of wrongTypeJsons(desc, bases[method])) {
      // A bidi stream needs HTTP/2 (Connect over fetch is HTTP/1.1): gRPC with the JSON codec.
      const got = clientStreaming.has(method)
        ? await rawGrpc(daemon.url, path(method), grpcFrame(Buffer.from(json)), {
            "content-type": "application/grpc+json",
          })
        : await connectJson(daemon.url, path(method), json, { streaming });
      expect({ json, ...got }).toMatchObject({
        json,
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(names ?? /./),
      });
    }
  });

  it("Connect JSON with an unknown enum name is refused, not read as unset", async () => {
    const { daemon } = fixture();
    const got = await connectJson(daemon.url, path("ListSessions"), '{"state": "RUN_STATE_BOGUS"}');
    expect(got).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("reins.session.v1.RunState"),
    });
  });
});
