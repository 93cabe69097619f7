import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type Event,
  EventSchema,
  ExecutorService,
  HarnessService,
  RunState,
  SessionService,
  StopReason,
} from "@reins/proto";
import { scriptTurns } from "@reins/testkit";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ExecutorDaemon, startExecutorDaemon } from "./support/executor-daemon.js";
import {
  agentConfig,
  anyText,
  enumValue,
  event,
  eventIdLike,
  sessionIdLike,
  uint32,
  uint64,
} from "./support/fuzz-arbitraries.js";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import { bearer, errorLines, healthOf, type Status, statusOf, streamStatusOf } from "./support/hostile.js";

// A bounded-time fuzz of every RPC of the three daemons (real processes, real NATS and
// Docker, the fake Messages API). Each RPC gets arbitrary field values for a fixed time
// (REINS_FUZZ_MS, default 2.5 s; the seed is printed on failure, and REINS_FUZZ_SEED
// replays one). Properties: only the status codes the contract documents for the RPC come
// back, each error with a message; no daemon logs an error or stops serving; and the log
// of a session holds exactly the appends that were accepted.

const budgetMs = Number(process.env.REINS_FUZZ_MS ?? 2_500);
const seed = process.env.REINS_FUZZ_SEED ? Number(process.env.REINS_FUZZ_SEED) : undefined;
const params = {
  numRuns: 10_000,
  interruptAfterTimeLimit: budgetMs,
  markInterruptAsFailure: false,
  ...(seed === undefined ? {} : { seed }),
};

let stack: HarnessStack | undefined;
let executor: ExecutorDaemon | undefined;
const base = "fuzz-base";
const fixture = () => {
  if (!stack || !executor) throw new Error("the stack did not start");
  return { stack, executor };
};

beforeAll(async () => {
  [stack, executor] = await Promise.all([startHarnessStack(scriptTurns([])), startExecutorDaemon()]);
  await stack.sessions.createSession({ sessionId: base, config: { model: "m" } });
  await stack.sessions.appendEvents({
    sessionId: base,
    expectedLastSeq: 1n,
    events: [
      create(EventSchema, { id: "b-1", payload: { case: "userMessage", value: { text: "hi" } } }),
      create(EventSchema, {
        id: "b-2",
        payload: { case: "sessionStatus", value: { state: RunState.IDLE, stopReason: StopReason.END_TURN } },
      }),
    ],
  });
}, 120_000);
afterAll(async () => {
  await Promise.all([stack?.[Symbol.asyncDispose](), executor?.[Symbol.asyncDispose]()]);
});
const daemons = () => {
  const { stack, executor } = fixture();
  return [stack.session, stack.harness(), executor.daemon];
};
let seen: number[] = [];
beforeEach(() => {
  seen = daemons().map((d) => d.output.length);
});
afterEach(async () => {
  const { stack, executor } = fixture();
  expect(await healthOf(stack.session.url, SessionService.typeName)).toBe("SERVING");
  expect(await healthOf(stack.harness().url, HarnessService.typeName)).toBe("SERVING");
  expect(await healthOf(executor.daemon.url, ExecutorService.typeName)).toBe("SERVING");
  for (const [i, daemon] of daemons().entries()) expect(errorLines(daemon.output.slice(seen[i]))).toEqual([]);
});

/** Checks `property` for the time budget, and says how many cases that was. */
async function fuzz<T>(property: fc.IAsyncProperty<T>): Promise<void> {
  const details = await fc.check(property, params);
  const name = expect.getState().currentTestName ?? "property";
  console.log(`${name}: ${details.numRuns} cases in ${budgetMs} ms (seed ${details.seed})`);
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? `${name} failed`);
}

/** Fails the property unless the call ended with one of `allowed`, with a message when it failed. */
function expectCode(rpc: string, got: Status, allowed: readonly string[]): void {
  if (!allowed.includes(got.code)) throw new Error(`${rpc} answered ${got.code}: ${got.message.slice(0, 500)}`);
  if (got.code !== "OK" && got.message.trim() === "") throw new Error(`${rpc} answered ${got.code} without a message`);
}

/** Reads (with a stream: the first event, or a short wait) then leaves. */
const briefly = (open: (signal: AbortSignal) => AsyncIterable<unknown>) =>
  streamStatusOf((signal) => open(AbortSignal.any([signal, AbortSignal.timeout(300)])), 0);
// The client leaving a stream that had nothing to say is not an error of the server.
const left = ["CANCELED", "DEADLINE_EXCEEDED"];

const afterSeq = fc.oneof(fc.bigInt({ min: 0n, max: 10n }), uint64);
const types = fc.array(enumValue, { maxLength: 3 });
const sessionConfig = agentConfig({ toolNames: ["sh"], executorAddresses: [], toolDefinitions: true });

describe("fuzz: SessionService", { timeout: 60_000 }, () => {
  const sessions = () => fixture().stack.sessions;

  it("CreateSession", async () => {
    await fuzz(
      fc.asyncProperty(
        fc.record({
          sessionId: sessionIdLike([base]),
          config: fc.option(sessionConfig, { nil: undefined }),
          title: fc.oneof(anyText(), fc.constant("t".repeat(201))),
          eventId: fc.oneof(fc.constant(""), eventIdLike(["created-1"])),
        }),
        async (req) => {
          const got = await statusOf(sessions().createSession(req));
          expectCode("CreateSession", got, ["OK", "INVALID_ARGUMENT", "ALREADY_EXISTS"]);
        },
      ),
    );
  });

  it("GetSession, GetEvents, StreamEvents and DeleteSession", async () => {
    const id = sessionIdLike([base, "never-created"]).filter((s) => s !== base);
    await fuzz(
      fc.asyncProperty(
        fc.record({ readId: sessionIdLike([base]), deleteId: id, afterSeq, limit: uint32, types }),
        async ({ readId, deleteId, afterSeq, limit, types }) => {
          const reads = ["OK", "INVALID_ARGUMENT", "NOT_FOUND"];
          expectCode("GetSession", await statusOf(sessions().getSession({ sessionId: readId })), reads);
          const page = await statusOf(sessions().getEvents({ sessionId: readId, afterSeq, limit, types }));
          expectCode("GetEvents", page, reads);
          const streamed = await briefly((signal) =>
            sessions().streamEvents({ sessionId: readId, afterSeq, types }, { signal }),
          );
          expectCode("StreamEvents", streamed, [...reads, ...left]);
          const deleted = await statusOf(sessions().deleteSession({ sessionId: deleteId }));
          expectCode("DeleteSession", deleted, reads);
        },
      ),
    );
  });

  it("ListSessions", async () => {
    await fuzz(
      fc.asyncProperty(
        fc.record({ pageSize: uint32, pageToken: fc.oneof(fc.constant(""), anyText(60)), state: enumValue }),
        async (req) => {
          expectCode("ListSessions", await statusOf(sessions().listSessions(req)), ["OK", "INVALID_ARGUMENT"]);
        },
      ),
    );
  });

  it("AppendEvents: the log holds exactly the accepted appends", async () => {
    const pool = Array.from({ length: 16 }, (_, i) => `e-${i}`);
    // Mostly events the service must take, so that logs grow; the rest anything at all.
    const plausible = fc
      .record({ id: fc.constantFrom(...pool), text: anyText() })
      .map(({ id, text }) => create(EventSchema, { id, payload: { case: "userMessage", value: { text } } }));
    const append = fc.record({
      // Mostly the writer's true position, so that appends are accepted and build a log.
      expected: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.oneof(fc.bigInt({ min: 0n, max: 12n }), uint64) },
      ),
      events: fc.array(fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: event(pool) }), {
        maxLength: 4,
      }),
      sessionId: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: sessionIdLike() }),
    });
    let n = 0;
    let written = 0;
    await fuzz(
      fc.asyncProperty(fc.array(append, { minLength: 1, maxLength: 8 }), async (appends) => {
        const sessionId = `fuzz-log-${++n}`;
        const created = await sessions().createSession({ sessionId, config: { model: "m" } });
        const accepted: Event[] = created.event ? [created.event] : [];
        let last = 1n;
        for (const a of appends) {
          const target = a.sessionId ?? sessionId;
          try {
            const res = await sessions().appendEvents({
              sessionId: target,
              expectedLastSeq: a.expected ?? last,
              events: a.events,
            });
            if (target !== sessionId) continue;
            for (const e of res.events) {
              if (e.seq <= last) continue;
              accepted.push(e);
              written += 1;
            }
            last = res.lastSeq;
          } catch (err) {
            const got = await statusOf(Promise.reject(err));
            expectCode("AppendEvents", got, ["INVALID_ARGUMENT", "ABORTED", "NOT_FOUND"]);
          }
        }
        const log = await sessions().getEvents({ sessionId });
        expect(log.events).toEqual(accepted.sort((x, y) => Number(x.seq - y.seq)));
        expect(log.lastSeq).toBe(last);
        await sessions().deleteSession({ sessionId });
      }),
    );
    // Not only refusals: the property saw appends go through.
    console.log(`AppendEvents: ${written} events written`);
    expect(written).toBeGreaterThan(0);
  });
});

describe("fuzz: ExecutorService", { timeout: 60_000 }, () => {
  const token = () => fixture().executor.token;
  const client = () => createClient(ExecutorService, createGrpcTransport({ baseUrl: fixture().executor.daemon.url }));
  // Mostly the right token, so that the calls get past authentication.
  const authorization = fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    // What HTTP/2 can carry in a header value: printable ASCII.
    {
      weight: 1,
      arbitrary: fc.oneof(fc.constantFrom("", "Bearer ", "Bearer wrong"), fc.stringMatching(/^[ -~]{0,40}$/)),
    },
  );
  const headersOf = (auth: string | undefined) => (auth === undefined ? bearer(token()) : { authorization: auth });
  const unauthenticated = (auth: string | undefined) => (auth === undefined ? [] : ["UNAUTHENTICATED"]);

  it("Execute", async () => {
    // Input that would run a container is rare here (it needs {"command": <text>} for sh):
    // the fuzz is about what is refused, not about running arbitrary commands.
    const inputJson = fc.oneof(fc.json(), anyText(60), fc.constantFrom("", "{", "[]", '{"command": ""}'));
    await fuzz(
      fc.asyncProperty(
        fc.record({
          name: fc.oneof(fc.constantFrom("sh", "ws", ""), anyText(30)),
          inputJson,
          sessionId: fc.oneof(fc.constant(""), sessionIdLike()),
          callId: fc.oneof(fc.constant(""), anyText(300)),
          auth: authorization,
        }),
        async ({ auth, ...req }) => {
          const got = await statusOf(client().execute(req, { headers: headersOf(auth) }));
          expectCode("Execute", got, ["OK", "INVALID_ARGUMENT", ...unauthenticated(auth)]);
        },
      ),
    );
  });

  it("ListTools and DeleteWorkspace", async () => {
    await fuzz(
      fc.asyncProperty(fc.record({ sessionId: sessionIdLike(), auth: authorization }), async ({ sessionId, auth }) => {
        const headers = headersOf(auth);
        expectCode("ListTools", await statusOf(client().listTools({}, { headers })), ["OK", ...unauthenticated(auth)]);
        const deleted = await statusOf(client().deleteWorkspace({ sessionId }, { headers }));
        expectCode("DeleteWorkspace", deleted, ["OK", "INVALID_ARGUMENT", ...unauthenticated(auth)]);
      }),
    );
  });
});

describe("fuzz: HarnessService", { timeout: 60_000 }, () => {
  const harness = () => fixture().stack.client();
  // Tool names from the stack's executor catalog; no client-named executor (a closed port
  // stands for one), and no tool definitions (see above).
  const config = agentConfig({
    toolNames: ["sh", "wait"],
    executorAddresses: ["http://127.0.0.1:9"],
    toolDefinitions: false,
  });
  const start = fc.record({
    config: fc.option(config, { nil: undefined }),
    message: fc.oneof(anyText(), fc.constant("hello")),
    title: anyText(40),
    sessionId: fc.oneof(fc.constant(""), sessionIdLike()),
  });
  // An executor that cannot be reached is UNAVAILABLE; a session id taken by another
  // request is ALREADY_EXISTS.
  const startCodes = ["OK", "INVALID_ARGUMENT", "ALREADY_EXISTS", "UNAVAILABLE"];

  it("StartSession and RunSession", async () => {
    await fuzz(
      fc.asyncProperty(start, start, async (a, b) => {
        expectCode("StartSession", await statusOf(harness().startSession(a)), startCodes);
        const run = await briefly((signal) => harness().runSession(b, { signal }));
        expectCode("RunSession", run, [...startCodes, ...left]);
      }),
    );
  });

  it("SendMessage, Wake and Interrupt", async () => {
    const known = [base, "never-created"];
    await fuzz(
      fc.asyncProperty(
        fc.record({
          sessionId: sessionIdLike(known),
          message: fc.oneof(anyText(), fc.constant("more")),
          eventId: fc.oneof(fc.constant(""), eventIdLike(["m-1"])),
          reason: anyText(),
        }),
        async ({ sessionId, message, eventId, reason }) => {
          // ABORTED: another writer (the run) moved the log on every attempt.
          const codes = ["OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "ABORTED"];
          expectCode("SendMessage", await statusOf(harness().sendMessage({ sessionId, message, eventId })), codes);
          expectCode("Wake", await statusOf(harness().wake({ sessionId })), codes);
          expectCode("Interrupt", await statusOf(harness().interrupt({ sessionId, reason })), codes);
        },
      ),
    );
  });
});
