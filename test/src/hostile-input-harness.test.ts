import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, EventSchema, HarnessService, RunState, SessionService } from "@reins/proto";
import { scriptTurns } from "@reins/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import {
  brokenEnvelopes,
  connectJson,
  errorLines,
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

// Hostile input against the built harness daemon, with the session and executor daemons,
// a real nats-server, Docker (tiny image) and the fake Messages API behind it. Every call
// gets the precise code and a message saying what is wrong; after each test all three
// daemons are SERVING, the victim session's log and the set of sessions are unchanged,
// and the harness has logged no error.

let stack: HarnessStack | undefined;
let victim = "";
const fixture = () => {
  if (!stack) throw new Error("the stack did not start");
  return stack;
};
beforeAll(async () => {
  stack = await startHarnessStack(scriptTurns([]));
  const { sessionId } = await stack.client().startSession({ config, message: "hello", sessionId: "victim" });
  await stack.settled(sessionId);
  victim = sessionId;
}, 120_000);
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };
const mb = (n: number) => "x".repeat(Math.round(n * 1024 * 1024));
const invalid = (pattern: RegExp) => ({ code: "INVALID_ARGUMENT", message: expect.stringMatching(pattern) });

async function snapshot() {
  const { sessions } = fixture();
  const { events } = await sessions.getEvents({ sessionId: victim });
  const list = await sessions.listSessions({ pageSize: 1000 });
  const ids = list.sessions.map((s) => s.sessionId).filter((id) => !id.startsWith("scratch-"));
  return { events, sessions: ids.sort() };
}
let before: Awaited<ReturnType<typeof snapshot>>;
let harnessErrors = 0;
beforeEach(async () => {
  before = await snapshot();
  harnessErrors = errorLines(fixture().harness().output).length;
});
afterEach(async () => {
  const s = fixture();
  expect(await healthOf(s.harness().url, HarnessService.typeName)).toBe("SERVING");
  expect(await healthOf(s.session.url, SessionService.typeName)).toBe("SERVING");
  expect(await snapshot()).toEqual(before);
  // Runs of scratch sessions may fail on purpose (hostile content in their logs).
  const errors = errorLines(s.harness().output).slice(harnessErrors);
  expect(errors.filter((line) => !line.includes('"sessionId":"scratch-'))).toEqual([]);
});

let scratches = 0;
const scratchId = () => `scratch-${++scratches}`;

/** A session written through the session service: created, then `events` at seq 2.. . */
async function scratchSession(events: Event[], sessionConfig: Record<string, unknown> = config) {
  const sessionId = scratchId();
  await fixture().sessions.createSession({ sessionId, config: sessionConfig });
  if (events.length > 0) await fixture().sessions.appendEvents({ sessionId, expectedLastSeq: 1n, events });
  return sessionId;
}
const event = (id: string, payload: MessageInitShape<typeof EventSchema>["payload"]) =>
  create(EventSchema, { id, payload });

describe("HarnessService: session ids", () => {
  const byId = (sessionId: string): Record<string, () => Promise<Status>> => {
    const c = fixture().client();
    return {
      StartSession: () => statusOf(c.startSession({ config, message: "hi", sessionId })),
      SendMessage: () => statusOf(c.sendMessage({ sessionId, message: "hi" })),
      Wake: () => statusOf(c.wake({ sessionId })),
      Interrupt: () => statusOf(c.interrupt({ sessionId })),
      RunSession: () => streamStatusOf((signal) => c.runSession({ config, message: "hi", sessionId }, { signal }), 100),
    };
  };

  it.each(hostileIds)("refuses an id with %s in every RPC with INVALID_ARGUMENT", async (_label, id) => {
    for (const [rpc, call] of Object.entries(byId(id))) {
      const got = await call();
      expect({ rpc, ...got }).toMatchObject({ rpc, ...invalid(invalidIdMessage) });
      expect(got.message.length).toBeLessThan(300);
    }
  });

  it("says the id is required when it is empty (StartSession and RunSession generate one)", async () => {
    for (const rpc of ["SendMessage", "Wake", "Interrupt"]) {
      expect({ rpc, ...(await byId("")[rpc]?.()) }).toEqual({
        rpc,
        code: "INVALID_ARGUMENT",
        message: "session_id is required",
      });
    }
  });

  it("answers NOT_FOUND for a well-formed id that has no session", async () => {
    for (const rpc of ["SendMessage", "Wake", "Interrupt"]) {
      expect({ rpc, ...(await byId("never-created")[rpc]?.()) }).toEqual({
        rpc,
        code: "NOT_FOUND",
        message: 'session "never-created" not found',
      });
    }
  });
});

describe("HarnessService.StartSession and RunSession", () => {
  // Both RPCs validate the same request; each case is sent to both.
  const both = async (req: Record<string, unknown>): Promise<Status[]> => {
    const c = fixture().client();
    const start = await statusOf(c.startSession({ message: "hi", ...req }));
    const run = await streamStatusOf((signal) => c.runSession({ message: "hi", ...req }, { signal }), 100);
    return [start, { code: run.code, message: run.message }];
  };

  it("requires a config and a message that is not blank", async () => {
    expect(await both({})).toEqual([invalid(/^config is required$/), invalid(/^config is required$/)]);
    for (const message of ["", "   ", "\n\t "]) {
      expect(await both({ config, message })).toEqual([
        invalid(/^message must not be empty$/),
        invalid(/^message must not be empty$/),
      ]);
    }
  });

  it("checks the executor address and the tool names before anything is written", async () => {
    const bad = { ...config, executorAddress: "not a url" };
    expect(await both({ config: bad })).toEqual([
      invalid(/^config\.executor_address "not a url" is not a URL/),
      invalid(/^config\.executor_address/),
    ]);
    for (const name of ["nope", "a.b", "*", "\u0000", mb(1)]) {
      const got = await both({ config: { ...config, tools: ["sh", name] } });
      expect(got).toEqual([invalid(/^config\.tools: unknown tool "/), invalid(/^config\.tools: unknown tool/)]);
      expect(got[0]?.message.length).toBeLessThan(2_100);
    }
  });

  it("refuses a title over the limit", async () => {
    expect(await both({ config, title: "t".repeat(201) })).toEqual([
      invalid(/^title is 201 characters, over the limit of 200$/),
      invalid(/^title is 201 characters/),
    ]);
  });

  it("refuses a request larger than the daemon reads", async () => {
    // Node's HTTP/2 client refuses to buffer 10 MB for one session unless told it may.
    const c = createClient(
      HarnessService,
      createGrpcTransport({ baseUrl: fixture().harness().url, nodeOptions: { maxSessionMemory: 64 } }),
    );
    const got = [
      await statusOf(c.startSession({ config, message: mb(10) })),
      await streamStatusOf((signal) => c.runSession({ config, message: mb(10) }, { signal }), 100),
    ];
    for (const status of got) {
      expect(status).toMatchObject({
        code: "RESOURCE_EXHAUSTED",
        message: expect.stringMatching(/message size \d+ is larger than configured readMaxBytes \d+/),
      });
    }
  });

  it("refuses a first message too large for the log, and leaves no session behind", async () => {
    const sessionId = scratchId();
    const got = await statusOf(
      fixture()
        .client()
        .startSession({ config, message: mb(1.5), sessionId }),
    );
    const left = await statusOf(fixture().sessions.getSession({ sessionId }));
    expect({ got, left }).toEqual({
      got: invalid(/batch encodes to \d+ bytes, over the limit/),
      left: { code: "NOT_FOUND", message: `session "${sessionId}" not found` },
    });
  });

  it("refuses tool definitions whose input schema is not a JSON object, and leaves no session behind", async () => {
    const got: Status[] = [];
    const left: Status[] = [];
    for (const inputSchemaJson of ["not json", "[]", "42"]) {
      const sessionId = scratchId();
      const broken = { ...config, tools: [], toolDefinitions: [{ name: "sh", description: "d", inputSchemaJson }] };
      got.push(await statusOf(fixture().client().startSession({ config: broken, message: "hi", sessionId })));
      left.push(await statusOf(fixture().sessions.getSession({ sessionId })));
    }
    expect(got).toEqual(got.map(() => invalid(/input_schema_json/)));
    expect(left.map((s) => s.code)).toEqual(left.map(() => "NOT_FOUND"));
  });

  // The harness's executor bearer token goes only to executors its operator allowed.
  it("never sends the executor token to an executor address a client names", async () => {
    // A client-named "executor" that records the credentials it is sent and answers like
    // an executor without ListTools.
    const seen: string[] = [];
    const server = http2.createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? ""));
      req.resume();
      res.writeHead(200, { "content-type": "application/grpc" });
      res.addTrailers({ "grpc-status": "12", "grpc-message": "not here" });
      res.end();
    });
    const connections = new Set<http2.ServerHttp2Session>();
    server.on("session", (session) => connections.add(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const got = await statusOf(
        fixture()
          .client()
          .startSession(
            { config: { ...config, executorAddress: url }, message: "hi", sessionId: scratchId() },
            { timeoutMs: 20_000 },
          ),
      );
      expect({ got: got.code, seen }).toEqual({ got: expect.not.stringMatching(/^OK$/), seen: [] });
    } finally {
      for (const session of connections) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("HarnessService.SendMessage, Wake and Interrupt", () => {
  it("refuses a blank message, a bad event id and a message too large for the log, writing nothing", async () => {
    const c = fixture().client();
    expect(await statusOf(c.sendMessage({ sessionId: victim, message: " " }))).toEqual(
      invalid(/^message must not be empty$/),
    );
    for (const eventId of ["a b", "*", "e\u0000", "e".repeat(129)]) {
      expect(await statusOf(c.sendMessage({ sessionId: victim, message: "hi", eventId }))).toEqual(
        invalid(/id ".*"(\.\.\.)? is invalid: use 1-128 characters/),
      );
    }
    expect(await statusOf(c.sendMessage({ sessionId: victim, message: mb(1.5) }))).toEqual(
      invalid(/^batch encodes to \d+ bytes, over the limit/),
    );
  });

  it("names event_id when it is invalid", async () => {
    const got = await statusOf(fixture().client().sendMessage({ sessionId: victim, message: "hi", eventId: "a b" }));
    expect(got).toEqual(invalid(/^event_id "a b" is invalid/));
  });

  it("refuses to continue a terminated session or interrupt an idle one", async () => {
    const c = fixture().client();
    const terminated = await scratchSession([
      event("t-1", { case: "userMessage", value: { text: "hi" } }),
      event("t-2", { case: "sessionStatus", value: { state: RunState.TERMINATED } }),
    ]);
    expect(await statusOf(c.sendMessage({ sessionId: terminated, message: "more" }))).toEqual({
      code: "FAILED_PRECONDITION",
      message: `session ${terminated} is terminated`,
    });
    expect(await statusOf(c.interrupt({ sessionId: victim, reason: mb(1) }))).toEqual({
      code: "FAILED_PRECONDITION",
      message: `session ${victim} is idle: there is no turn to interrupt`,
    });
  });

  it("survives a log with hostile content: waking it neither crashes the harness nor leaves it running", async () => {
    // The session service takes these today; the harness must cope with them either way.
    const sessionId = await scratchSession(
      [
        event("h-1", { case: "userMessage", value: { text: "hi" } }),
        event("h-2", { case: "sessionStatus", value: { state: RunState.RUNNING } }),
      ],
      { ...config, tools: [], toolDefinitions: [{ name: "sh", description: "d", inputSchemaJson: "not json" }] },
    );
    expect((await statusOf(fixture().client().wake({ sessionId }))).code).toBe("OK");
    const events = await fixture().settled(sessionId, 0n, 8_000);
    const last = events.findLast((e) => e.payload.case === "sessionStatus");
    expect(last?.payload.case === "sessionStatus" && last.payload.value.state).not.toBe(RunState.RUNNING);
  });
});

describe("HarnessService on the wire", () => {
  const methods = HarnessService.methods.map((m) => [m.name, m.methodKind === "server_streaming"] as const);
  const path = (method: string) => `/${HarnessService.typeName}/${method}`;

  // What every RPC answers to each undecodable message.
  const garbageOutcomes = async () => {
    const outcomes: Array<{ method: string; label: string; code: string; message: string }> = [];
    for (const [method] of methods) {
      for (const [label, bytes] of garbageMessages) {
        const { code, message } = await rawGrpc(fixture().harness().url, path(method), grpcFrame(bytes));
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
    for (const { label, body, message, want } of brokenEnvelopes) {
      const got = await rawGrpc(fixture().harness().url, path(method), body);
      expect({ label, code: got.code, message: got.message }).toEqual({
        label,
        code: want,
        message: expect.stringMatching(message),
      });
    }
  });

  // A request that names no session (ListToolCatalog) has no required field: all defaults is a valid request.
  const namesSession = (method: string) =>
    HarnessService.methods.find((m) => m.name === method)?.input.fields.some((f) => f.name === "session_id") ?? false;

  it.each(methods)("%s: an empty message reads as all defaults, refused where a field is required", async (method) => {
    const got = await rawGrpc(fixture().harness().url, path(method), grpcFrame(new Uint8Array()));
    if (!namesSession(method)) {
      expect(got).toMatchObject({ code: "OK" });
      return;
    }
    const required =
      method === "StartSession" || method === "RunSession" ? "message must not be empty" : "session_id is required";
    expect(got).toMatchObject({ code: "INVALID_ARGUMENT", message: required });
  });

  // Valid requests but for the broken field. A start that wrongly succeeds makes a scratch session.
  const bases: Record<string, Record<string, unknown>> = {
    StartSession: { config, message: "hi", sessionId: "scratch-json-start" },
    SendMessage: { sessionId: "never-created", message: "hi" },
    Wake: { sessionId: "never-created" },
    Interrupt: { sessionId: "never-created" },
    RunSession: { config, message: "hi", sessionId: "scratch-json-run" },
  };

  it.each(methods)(
    "%s: Connect JSON of the wrong types gets INVALID_ARGUMENT naming the field",
    async (method, streaming) => {
      const desc = HarnessService.methods.find((m) => m.name === method)?.input;
      if (!desc) throw new Error(`no method ${method}`);
      for (const { json, names } of wrongTypeJsons(desc, bases[method])) {
        const got = await connectJson(fixture().harness().url, path(method), json, { streaming });
        expect({ json: json.slice(0, 200), ...got }).toMatchObject({
          json: json.slice(0, 200),
          code: "INVALID_ARGUMENT",
          message: expect.stringMatching(names ?? /./),
        });
      }
    },
  );
});
