import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { type Event, SessionService } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { createSessionServiceImpl } from "./service/index.js";
import type { SessionStore } from "./session-store.js";
import { seqs, startStore, testConfig, userMessage } from "./testing/fixtures.js";

function whenReady(store: SessionStore, wanted: boolean): Promise<void> {
  if (store.ready === wanted) return Promise.resolve();
  return new Promise((resolve) => {
    const off = store.onReadyChange((ready) => {
      if (ready !== wanted) return;
      off();
      resolve();
    });
  });
}

const requestTimeoutMs = 1_000;
// A generous bound: the point is "answers, and does not hang", not speed.
const bound = requestTimeoutMs * 3;

async function codeAndTime(call: () => Promise<unknown>): Promise<{ code: Code | "ok"; ms: number }> {
  const started = performance.now();
  try {
    await call();
    return { code: "ok", ms: performance.now() - started };
  } catch (err) {
    return { code: ConnectError.from(err).code, ms: performance.now() - started };
  }
}

describe("NATS outages", () => {
  it("answers UNAVAILABLE in bounded time while NATS is down or hung, then resumes", async () => {
    await using nats = await startNatsServer();
    await using store = await startStore(nats.url, { requestTimeoutMs });
    const c = createClient(
      SessionService,
      createRouterTransport(({ service }) => service(SessionService, createSessionServiceImpl(store))),
    );
    await c.createSession({ sessionId: "outage", config: testConfig() });
    await c.appendEvents({ sessionId: "outage", expectedLastSeq: 1n, events: [userMessage("before")] });

    const every = () => [
      () => c.createSession({ sessionId: "outage-2", config: testConfig() }),
      () => c.getSession({ sessionId: "outage" }),
      () => c.listSessions({}),
      () => c.appendEvents({ sessionId: "outage", expectedLastSeq: 2n, events: [userMessage("during")] }),
      () => c.getEvents({ sessionId: "outage" }),
      () => c.streamEvents({ sessionId: "outage" })[Symbol.asyncIterator]().next(),
      () => c.deleteSession({ sessionId: "outage" }),
    ];

    // Hung: the process is stopped, the socket stays open, nothing answers.
    process.kill(nats.pid as number, "SIGSTOP");
    try {
      for (const call of every()) {
        const { code, ms } = await codeAndTime(call);
        expect(code).toBe(Code.Unavailable);
        expect(ms).toBeLessThan(bound);
      }
    } finally {
      process.kill(nats.pid as number, "SIGCONT");
    }

    // Down: killed; the store notices the closed socket and fails fast.
    await nats.kill("SIGKILL");
    await whenReady(store, false);
    for (const call of every()) {
      const { code, ms } = await codeAndTime(call);
      expect(code).toBe(Code.Unavailable);
      expect(ms).toBeLessThan(bound);
    }

    // Back on the same store dir: everything works again, nothing was half-written.
    await nats.restart();
    await whenReady(store, true);
    const page = await c.getEvents({ sessionId: "outage" });
    const last = page.lastSeq;
    expect(page.events.map((e) => e.payload.case === "userMessage" && e.payload.value.text).slice(0, 2)).toEqual([
      false,
      "before",
    ]);
    const res = await c.appendEvents({ sessionId: "outage", expectedLastSeq: last, events: [userMessage("after")] });
    expect(res.lastSeq).toBe(last + 1n);
  }, 60_000);

  it("keeps a stream open across a NATS restart with no gap and no duplicate", async () => {
    await using nats = await startNatsServer();
    await using store = await startStore(nats.url, { requestTimeoutMs });
    await store.createSession({ sessionId: "survivor", config: testConfig() });
    const abort = new AbortController();
    const seen: Event[] = [];
    let onEvent: (() => void) | undefined;
    const streaming = (async () => {
      for await (const e of store.streamEvents("survivor", { signal: abort.signal })) {
        seen.push(e);
        onEvent?.();
      }
    })();
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        if (seen.length >= n) return resolve();
        onEvent = () => seen.length >= n && resolve();
      });
    await store.appendEvents("survivor", 1, [userMessage("a")]);
    await waitFor(2);
    await nats.kill("SIGKILL");
    await nats.restart();
    await whenReady(store, true);
    await store.appendEvents("survivor", 2, [userMessage("b"), userMessage("c")]);
    await waitFor(4);
    abort.abort();
    await streaming;
    expect(seqs(seen)).toEqual([1, 2, 3, 4]);
  }, 60_000);
});
