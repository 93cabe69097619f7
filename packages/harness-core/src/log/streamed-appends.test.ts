import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentConfigSchema, type Event, EventSchema, SessionService } from "@reins/proto";
import { bindService, type ReinsServer, startServer } from "@reins/service-kit";
import { createSessionServiceImpl, createSessionStore, type SessionStore } from "@reins/session-store";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { forTenant } from "../service/index.js";
import { isLogFull, type SessionClient } from "./session-log.js";
import { type StreamedSessionClient, withStreamedAppends } from "./streamed-appends.js";

const config = create(AgentConfigSchema, { model: "claude-test" });
const message = (text: string): Event =>
  create(EventSchema, { id: uuidv7(), payload: { case: "userMessage", value: { text } } });

/** What a call failed with, for comparing the stream's errors with a unary call's. */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the append to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
const shape = (err: ConnectError) => ({
  code: err.code,
  message: err.rawMessage,
  details: err.details.map((d) => ("type" in d ? d.type : d.desc.typeName)),
});

let nats: NatsServer;
let store: SessionStore;
let server: ReinsServer;
let unary: SessionClient;
beforeAll(async () => {
  nats = await startNatsServer();
  store = await createSessionStore({ servers: nats.url, requestTimeoutMs: 2_000, maxLogBytes: 4096 });
  // Closing drops connections at once: the stream's own end is what is tested.
  server = await startServer({
    services: [bindService(SessionService, createSessionServiceImpl(store))],
    shutdownGraceMs: 0,
  });
  unary = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  await nats?.stop();
});

/** A streamed client on its own connection, closed by `await using`. */
function streamedClient(baseUrl = server.url, idleCloseMs?: number): StreamedSessionClient & AsyncDisposable {
  const client = withStreamedAppends(
    createClient(SessionService, createGrpcTransport({ baseUrl })),
    idleCloseMs === undefined ? {} : { idleCloseMs },
  );
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

async function newSession(tenant = ""): Promise<string> {
  const sessionId = `sa-${uuidv7()}`;
  await unary.createSession({ sessionId, config, tenant });
  return sessionId;
}

describe("withStreamedAppends", () => {
  it("answers and fails exactly as a unary AppendEvents, over one stream", async () => {
    await using streamed = streamedClient();
    const sessionId = await newSession();
    const first = message("one");
    const appended = await streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [first] });
    expect(appended.lastSeq).toBe(2n);
    expect(appended.events.map((e) => [e.id, e.seq])).toEqual([[first.id, 2n]]);
    // Many at once, to different sessions, all on the same stream.
    const others = await Promise.all([1, 2, 3].map(() => newSession()));
    const answers = await Promise.all(
      others.map((id) => streamed.appendEvents({ sessionId: id, expectedLastSeq: 1n, events: [message("x")] })),
    );
    expect(answers.map((a) => a.lastSeq)).toEqual([2n, 2n, 2n]);
    expect(store.openStreams).toBe(1);

    // The same failures, side by side: fenced, bad input, a full log (details included).
    const cases = [
      { sessionId, expectedLastSeq: 1n, events: [message("late")] },
      { sessionId: "no.such", expectedLastSeq: 1n, events: [message("x")] },
      { sessionId, expectedLastSeq: 2n, events: [message("y".repeat(5000))] },
    ];
    for (const request of cases) {
      const viaStream = await failure(streamed.appendEvents(request));
      const viaUnary = await failure(unary.appendEvents(request));
      expect(shape(viaStream)).toEqual(shape(viaUnary));
    }
    const full = await failure(streamed.appendEvents(cases[2] as (typeof cases)[number]));
    expect(full.code).toBe(Code.ResourceExhausted);
    expect(isLogFull(full)).toBe(true);
    // A retry whose first answer was lost gets the original seq.
    const retried = await streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [first] });
    expect(retried.events[0]?.seq).toBe(2n);
  });

  it("carries the reins-tenant header as the append's tenant", async () => {
    await using streamed = streamedClient();
    const sessionId = await newSession("a");
    const request = { sessionId, expectedLastSeq: 1n, events: [message("x")] };
    const hidden = await failure(forTenant(streamed, "b").appendEvents(request));
    expect(shape(hidden)).toEqual({ code: Code.NotFound, message: `session "${sessionId}" not found`, details: [] });
    expect((await forTenant(streamed, "a").appendEvents(request)).lastSeq).toBe(2n);
  });

  it("gives up on an append when cancelled or past its timeout, and the stream goes on", async () => {
    await using streamed = streamedClient();
    const sessionId = await newSession();
    const cancelled = await failure(
      streamed.appendEvents(
        { sessionId, expectedLastSeq: 1n, events: [message("x")] },
        { signal: AbortSignal.abort() },
      ),
    );
    expect(cancelled.code).toBe(Code.Canceled);
    // NATS frozen: the append is stuck in the service, and the caller's timeout decides.
    const stuck = message("y");
    process.kill(nats.pid as number, "SIGSTOP");
    let timedOut: ConnectError;
    try {
      timedOut = await failure(
        streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [stuck] }, { timeoutMs: 100 }),
      );
    } finally {
      process.kill(nats.pid as number, "SIGCONT");
    }
    expect(timedOut.code).toBe(Code.DeadlineExceeded);
    expect(timedOut.rawMessage).toBe("no answer within 100 ms; the append may still be written");
    // Whether the timed-out append was written is unknown to the caller: a retry
    // of the same events settles it (their seq either way), on the same stream.
    const retried = await streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [stuck] });
    expect(retried.events.map((e) => [e.id, e.seq])).toEqual([[stuck.id, 2n]]);
    const next = await streamed.appendEvents({ sessionId, expectedLastSeq: 2n, events: [message("z")] });
    expect(next.lastSeq).toBe(3n);
  });

  it("fails the appends a broken stream carried with its error, then opens a new stream", async () => {
    const store2 = await createSessionStore({ servers: nats.url, requestTimeoutMs: 2_000 });
    const server2 = await startServer({
      services: [bindService(SessionService, createSessionServiceImpl(store2))],
      shutdownGraceMs: 0,
    });
    try {
      await using streamed = streamedClient(server2.url);
      const sessionId = await newSession();
      await streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [message("x")] });
      // The service shuts down: it ends its streams (UNAVAILABLE) after answering what they carried.
      await store2.endStreams();
      // An append sent before the stream's end reached this side fails UNAVAILABLE
      // (the session log retries it): retry once, as it would.
      const request = { sessionId, expectedLastSeq: 2n, events: [message("y")] };
      const after = await streamed.appendEvents(request).catch((err: unknown) => {
        expect(ConnectError.from(err).code).toBe(Code.Unavailable);
        return streamed.appendEvents(request);
      });
      expect(after.lastSeq).toBe(3n);
      expect(store2.openStreams).toBe(1);

      // The service dies with an append in flight (stuck on a frozen NATS).
      process.kill(nats.pid as number, "SIGSTOP");
      let lost: ConnectError;
      try {
        const inFlight = failure(streamed.appendEvents({ sessionId, expectedLastSeq: 3n, events: [message("z")] }));
        await server2.close();
        lost = await inFlight;
      } finally {
        process.kill(nats.pid as number, "SIGCONT");
      }
      // UNAVAILABLE: the session log retries it with the same event ids.
      expect(lost.code).toBe(Code.Unavailable);
    } finally {
      await server2.close();
      await store2.close();
    }
  });

  it("closes a stream left idle, and opens one again for the next append", async () => {
    await using streamed = streamedClient(server.url, 20);
    const sessionId = await newSession();
    await streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [message("x")] });
    await vi.waitFor(() => expect(store.openStreams).toBe(0));
    expect((await streamed.appendEvents({ sessionId, expectedLastSeq: 2n, events: [message("y")] })).lastSeq).toBe(3n);
  });

  it("uses unary calls against a session service without the stream", async () => {
    const { appendEventsStream: _, ...older } = createSessionServiceImpl(store);
    const oldServer = await startServer({ services: [bindService(SessionService, older)], shutdownGraceMs: 0 });
    try {
      await using streamed = streamedClient(oldServer.url);
      const sessionId = await newSession();
      const both = await Promise.all([
        streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [message("x")] }),
        newSession().then((other) =>
          streamed.appendEvents({ sessionId: other, expectedLastSeq: 1n, events: [message("y")] }),
        ),
      ]);
      expect(both.map((a) => a.lastSeq)).toEqual([2n, 2n]);
      expect((await streamed.appendEvents({ sessionId, expectedLastSeq: 2n, events: [message("z")] })).lastSeq).toBe(
        3n,
      );
    } finally {
      await oldServer.close();
    }
  });

  it("close() waits for the appends in flight; appends after it are unary calls", async () => {
    const streamed = streamedClient();
    const sessionId = await newSession();
    const inFlight = streamed.appendEvents({ sessionId, expectedLastSeq: 1n, events: [message("x")] });
    await streamed.close();
    expect((await inFlight).lastSeq).toBe(2n);
    expect(store.openStreams).toBe(0);
    expect((await streamed.appendEvents({ sessionId, expectedLastSeq: 2n, events: [message("y")] })).lastSeq).toBe(3n);
    expect(store.openStreams).toBe(0);
  });
});
