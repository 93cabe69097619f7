import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  type AppendEventsStreamRequest,
  AppendEventsStreamRequestSchema,
  EventSchema,
  grpcHealthV1,
  SessionService,
} from "@reins/proto";
import { createAsyncQueue } from "@reins/service-kit";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";

// These tests spawn the built daemon (apps/session/dist/main.js): build it first
// with `pnpm turbo run build --filter=@reins/session`.

const { Health, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;
const message = (id: string, text: string) =>
  create(EventSchema, { id, payload: { case: "userMessage", value: { text } } });

async function waitForHealth(url: string, wanted: grpcHealthV1.HealthCheckResponse_ServingStatus) {
  const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
  const abort = new AbortController();
  try {
    for await (const res of health.watch({ service: "reins.session.v1.SessionService" }, { signal: abort.signal })) {
      if (res.status === wanted) return;
    }
  } finally {
    abort.abort();
  }
}

describe("session daemon", () => {
  it("serves gRPC, gRPC-Web and Connect on one port, with CORS, and follows NATS in its health", async () => {
    await using nats = await startNatsServer();
    const origin = "https://console.example";
    await using daemon = await startDaemon({
      app: "session",
      env: {
        REINS_SESSION_LISTEN: "127.0.0.1:0",
        REINS_NATS_URL: nats.url,
        REINS_STREAM_PREFIX: "DAEMON",
        REINS_NATS_TIMEOUT_MS: "1000",
        REINS_SESSION_CORS_ORIGINS: origin,
      },
    });
    const transports: Transport[] = [
      createGrpcTransport({ baseUrl: daemon.url }),
      createGrpcWebTransport({ baseUrl: daemon.url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: daemon.url, httpVersion: "1.1", useBinaryFormat: false }),
    ];
    for (const [i, transport] of transports.entries()) {
      const c = createClient(SessionService, transport);
      const sessionId = `daemon-${i}`;
      await c.createSession({ sessionId, config: { model: "m" } });
      const res = await c.appendEvents({ sessionId, expectedLastSeq: 1n, events: [message(`e-${i}`, "hello")] });
      expect(res.lastSeq).toBe(2n);
      const page = await c.getEvents({ sessionId });
      expect(page.events.map((e) => e.seq)).toEqual([1n, 2n]);
    }
    const listed = await createClient(SessionService, transports[0] as Transport).listSessions({});
    expect(listed.sessions.map((s) => s.sessionId)).toEqual(["daemon-2", "daemon-1", "daemon-0"]);

    const preflight = await fetch(`${daemon.url}/reins.session.v1.SessionService/GetSession`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);

    // NATS dies: health says NOT_SERVING and calls fail UNAVAILABLE; it returns: all good again.
    const c = createClient(SessionService, transports[0] as Transport);
    await waitForHealth(daemon.url, Status.SERVING);
    await nats.kill("SIGKILL");
    await waitForHealth(daemon.url, Status.NOT_SERVING);
    await expect(c.getSession({ sessionId: "daemon-0" })).rejects.toMatchObject({ code: Code.Unavailable });
    await nats.restart();
    await waitForHealth(daemon.url, Status.SERVING);
    expect((await c.getSession({ sessionId: "daemon-0" })).session?.lastSeq).toBe(2n);
  }, 60_000);

  it("keeps credentials in REINS_NATS_URL out of its log and out of the errors clients get", async () => {
    await using nats = await startNatsServer();
    const secret = "nats-pw-6c0ffee";
    // nats-server here takes anyone; the point is what the daemon shows of the URLs it was given.
    const withPassword = nats.url.replace("nats://", `nats://reins:${secret}@`);
    const withToken = nats.url.replace("nats://", `${secret}-token@`);
    await using daemon = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: `${withPassword},${withToken}` },
    });
    const c = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
    await c.createSession({ sessionId: "creds", config: { model: "m" } });
    await nats.kill("SIGKILL");
    await waitForHealth(daemon.url, Status.NOT_SERVING);
    const err = await c.getSession({ sessionId: "creds" }).then(
      () => new ConnectError("getSession succeeded without NATS"),
      (e: unknown) => ConnectError.from(e),
    );
    expect(err).toMatchObject({ code: Code.Unavailable });
    const port = new URL(nats.url).port;
    expect(err.rawMessage).toContain(`NATS at nats://[redacted]@127.0.0.1:${port},[redacted]@127.0.0.1:${port}`);
    const output = daemon.output.join("\n");
    expect(output).toContain(`"nats":"nats://[redacted]@127.0.0.1:${port},[redacted]@127.0.0.1:${port}"`);
    expect(`${output}\n${err.rawMessage}`).not.toContain(secret);
  }, 60_000);

  it("frees the stream's consumer when a gRPC client goes away", async () => {
    await using nats = await startNatsServer();
    await using daemon = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
    });
    const c = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
    await c.createSession({ sessionId: "leaver", config: { model: "m" } });
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const consumers = async () => (await jsm.streams.info("REINS_EVENTS")).state.consumer_count;
      const before = await consumers();
      const abort = new AbortController();
      const stream = c.streamEvents({ sessionId: "leaver" }, { signal: abort.signal })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.event?.seq).toBe(1n);
      expect(await consumers()).toBe(before + 1);
      abort.abort();
      await stream.next().catch(() => undefined);
      // The server learns of the reset asynchronously; nothing to await across processes.
      const deadline = Date.now() + 10_000;
      while ((await consumers()) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await consumers()).toBe(before);
    } finally {
      await nc.close();
    }
  }, 60_000);

  it("requires a bearer token when a tokens file is configured", async () => {
    await using nats = await startNatsServer();
    const dir = await mkdtemp(path.join(tmpdir(), "reins-session-auth-"));
    try {
      const tokensFile = path.join(dir, "tokens.yaml");
      await writeFile(tokensFile, "- token: harness-token-0123456789\n  role: harness\n  tenant: ''\n");
      await using daemon = await startDaemon({
        app: "session",
        env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_SESSION_TOKENS_FILE: tokensFile },
      });
      const anonymous = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
      const err = await anonymous.listSessions({}).catch((e: unknown) => ConnectError.from(e));
      expect(err).toMatchObject({ code: Code.Unauthenticated });
      const authed = createClient(
        SessionService,
        createGrpcTransport({
          baseUrl: daemon.url,
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", "Bearer harness-token-0123456789");
              return next(req);
            },
          ],
        }),
      );
      expect((await authed.listSessions({})).sessions).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("drains on SIGTERM, ending open streams (of events and of appends), and exits 0", async () => {
    await using nats = await startNatsServer();
    const daemon = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
    });
    try {
      const c = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
      await c.createSession({ sessionId: "drain", config: { model: "m" } });
      const stream = c.streamEvents({ sessionId: "drain" })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.event?.seq).toBe(1n);
      const ended = stream.next().then(
        () => "ended without an error",
        (e: unknown) => ConnectError.from(e).code,
      );
      // An append stream, open with nothing in flight, as a harness keeps one.
      await c.createSession({ sessionId: "drain-appends", config: { model: "m" } });
      const appends = createAsyncQueue<AppendEventsStreamRequest>();
      const answers = c.appendEventsStream(appends)[Symbol.asyncIterator]();
      appends.push(
        create(AppendEventsStreamRequestSchema, {
          callId: 1n,
          append: { sessionId: "drain-appends", expectedLastSeq: 1n, events: [message("drain-1", "x")] },
        }),
      );
      expect((await answers.next()).value?.result.case).toBe("appended");
      const appendsEnded = answers.next().then(
        () => "ended without an error",
        (e: unknown) => ConnectError.from(e),
      );
      daemon.signal("SIGTERM");
      expect(await ended).toBe(Code.Unavailable);
      // Ended by the daemon with UNAVAILABLE, not cut when the drain's grace ran out.
      expect(await appendsEnded).toMatchObject({
        code: Code.Unavailable,
        rawMessage: "session store unavailable: the session store is shutting down",
      });
      expect(await daemon.exited).toMatchObject({ exitCode: 0 });
    } finally {
      await daemon.kill();
    }
  }, 60_000);

  it("refuses to start with a malformed setting, naming it", async () => {
    await expect(
      startDaemon({ app: "session", env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_STREAM_REPLICAS: "three" } }),
    ).rejects.toThrow(
      /invalid configuration: REINS_STREAM_REPLICAS=\\"three\\" is invalid: expected an integer from 1 to 5/,
    );
  });
});
