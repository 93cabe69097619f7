import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  EventSchema,
  GetSessionRequestSchema,
  SessionService,
  StreamEventsRequestSchema,
  StreamEventsResponseSchema,
} from "@reins/proto";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";

// The daemon's memory, read from /proc while clients send and lag: what a
// client controls must not grow it beyond a bound. These tests spawn the built
// daemon (apps/session/dist/main.js): build it first with
// `pnpm turbo run build --filter=@reins/session`.

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Resident and peak resident (VmHWM) bytes of a process. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

const envelope = (bytes: Uint8Array, declared = bytes.length) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, bytes]);
};

interface Answer {
  status: number;
  /** Response headers, trailers and body as text: where each protocol puts its status. */
  text: string;
  sent: number;
}

/** Asked every 32 MiB sent: true stops the upload (the daemon already went past its bound). */
type Abandon = () => Promise<boolean>;

/**
 * Sends `head`, then zeros up to `total` bytes, as fast as the server takes
 * them, and stops once the answer is complete (or the stream is reset).
 */
async function sendHuge(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  head: Buffer,
  total: number,
  abandon: Abandon,
): Promise<Answer> {
  const session = http2.connect(url);
  session.on("error", () => {});
  try {
    const stream = session.request({ ":method": "POST", ...headers });
    const parts: string[] = [];
    let status = 0;
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      parts.push(JSON.stringify(h));
    });
    // grpc-message is percent-encoded.
    stream.on("trailers", (t) => parts.push(decodeURIComponent(JSON.stringify(t))));
    stream.on("data", (c: Buffer) => parts.push(c.toString("latin1")));
    stream.on("error", () => {});
    const answered = new Promise<void>((resolve) => stream.once("close", resolve));
    let over = false;
    void answered.then(() => (over = true));
    stream.on("end", () => (over = true));
    const chunk = Buffer.alloc(MiB);
    let sent = head.length;
    stream.write(head);
    for (let n = 1; !over && sent < total; n++) {
      sent += chunk.length;
      if (!stream.write(chunk)) {
        await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), answered]);
      }
      if (n % 32 === 0 && (await abandon())) stream.close(http2.constants.NGHTTP2_CANCEL);
    }
    if (!over) stream.end();
    await answered;
    return { status, text: parts.join("\n"), sent };
  } finally {
    session.destroy();
  }
}

/**
 * The same over HTTP/1.1, chunked (no content-length): a browser's Connect call.
 * On a raw socket, so that the server closing it mid-upload (EPIPE) still
 * leaves its answer readable.
 */
async function sendHugeHttp1(
  url: string,
  path: string,
  contentType: string,
  total: number,
  abandon: Abandon,
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on("error", () => {});
  const received: Buffer[] = [];
  let over = false;
  socket.on("data", (c: Buffer) => {
    over = true;
    received.push(c);
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  void closed.then(() => (over = true));
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: ${contentType}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
  );
  const chunk = Buffer.concat([Buffer.from(`${MiB.toString(16)}\r\n`), Buffer.alloc(MiB), Buffer.from("\r\n")]);
  let sent = 0;
  while (!over && sent < total) {
    sent += MiB;
    if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), closed]);
    if (sent % (32 * MiB) === 0 && (await abandon())) socket.destroy();
  }
  if (!over) socket.end("0\r\n\r\n");
  await closed;
  const text = Buffer.concat(received).toString("latin1");
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text, sent };
}

/** The messages of a gRPC response body. */
function responsesOf(body: Buffer) {
  const out = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push(fromBinary(StreamEventsResponseSchema, body.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
  }
  return out;
}

const tokens = JSON.stringify([{ token: "memory-bounds-harness-token", role: "harness" }]);
const sessionPath = (method: string) => `/${SessionService.typeName}/${method}`;

describe("session daemon memory", () => {
  it("stays bounded while clients without a token send 1 GiB request bodies, on every protocol", async () => {
    await using nats = await startNatsServer();
    await using daemon = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_SESSION_TOKENS: tokens },
    });
    // readMaxBytes of the daemon: the largest batch (1 MiB) plus 1 MiB.
    const readMaxBytes = 2 * MiB;
    const getSession = toBinary(GetSessionRequestSchema, create(GetSessionRequestSchema, { sessionId: "s" }));
    const streamEvents = toBinary(StreamEventsRequestSchema, create(StreamEventsRequestSchema, { sessionId: "s" }));
    const grpc = { "content-type": "application/grpc", te: "trailers" };
    const bound = 128 * MiB;
    const start = await memoryOf(daemon.pid);
    // A daemon that buffers everything would take minutes to fail on its own.
    const abandon = async () => (await memoryOf(daemon.pid)).peak - start.rss > bound;
    // Each protocol's reader stops at its own bound and answers with its own precise error.
    const cases: [string, () => Promise<Answer>, RegExp][] = [
      [
        // The unary fast path: a first envelope within the limit, then a body without end.
        "gRPC unary",
        () =>
          sendHuge(
            daemon.url,
            { ":path": sessionPath("GetSession"), ...grpc },
            envelope(getSession, readMaxBytes),
            GiB,
            abandon,
          ),
        /request body is larger than one message of configured readMaxBytes 2097152.*"grpc-status":"8"/s,
      ],
      [
        // connect-node: a server stream authenticates before it reads its one message.
        "gRPC server stream",
        () =>
          sendHuge(
            daemon.url,
            { ":path": sessionPath("StreamEvents"), ...grpc },
            envelope(streamEvents, readMaxBytes),
            GiB,
            abandon,
          ),
        /missing bearer token.*"grpc-status":"16"/s,
      ],
      [
        // One envelope of readMaxBytes is read whole, and does not decode.
        "gRPC-Web unary",
        () =>
          sendHuge(
            daemon.url,
            { ":path": sessionPath("GetSession"), "content-type": "application/grpc-web+proto" },
            envelope(getSession, readMaxBytes),
            GiB,
            abandon,
          ),
        /parse%20binary.*grpc-status: 3/s,
      ],
      [
        "Connect unary",
        () =>
          sendHuge(
            daemon.url,
            { ":path": sessionPath("GetSession"), "content-type": "application/proto" },
            Buffer.from(getSession),
            GiB,
            abandon,
          ),
        /"code":"resource_exhausted","message":"message size is larger than configured readMaxBytes 2097152"/,
      ],
      [
        "Connect unary, HTTP/1.1",
        () => sendHugeHttp1(daemon.url, sessionPath("GetSession"), "application/proto", GiB, abandon),
        /"code":"resource_exhausted","message":"message size is larger than configured readMaxBytes 2097152"/,
      ],
    ];
    for (const [name, send, expected] of cases) {
      const answer = await send();
      expect((await memoryOf(daemon.pid)).peak - start.rss, `${name}: daemon memory growth`).toBeLessThan(bound);
      expect(answer.text, name).toMatch(expected);
      // Refused well before the client got through its gigabyte.
      expect(answer.sent, name).toBeLessThan(16 * MiB);
    }
    const end = await memoryOf(daemon.pid);
    console.log(
      `session daemon, 1 GiB bodies without a token: start RSS ${(start.rss / MiB).toFixed(1)} MiB, peak RSS ${(end.peak / MiB).toFixed(1)} MiB`,
    );
    expect(end.peak - start.rss).toBeLessThan(bound);
  }, 120_000);

  it("stays bounded while a StreamEvents client reads nothing as 100,000 events are appended", async () => {
    await using nats = await startNatsServer();
    // The default REINS_SESSION_MAX_STREAM_LAG_BYTES.
    const lagLimit = 16 * MiB;
    // The readers' replica, and a writer's replica: the reader's daemon only follows the log.
    await using reader = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
    });
    await using writer = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_SESSION_MAX_EVENTS_PER_SEC: "0" },
    });
    const writes = createClient(SessionService, createGrpcTransport({ baseUrl: writer.url }));
    const reads = createClient(SessionService, createGrpcTransport({ baseUrl: reader.url }));
    const sessionId = "lagging";
    await writes.createSession({ sessionId, config: { model: "m" } });
    const batches = 1_000;
    const perBatch = 100;
    const total = 1 + batches * perBatch;

    // The slow client: takes the first event, then stops reading (HTTP/2 flow control
    // then stops the daemon's writes to it).
    const slow = http2.connect(reader.url);
    slow.on("error", () => {});
    const slowStream = slow.request({
      ":method": "POST",
      ":path": sessionPath("StreamEvents"),
      "content-type": "application/grpc",
      te: "trailers",
    });
    slowStream.end(envelope(toBinary(StreamEventsRequestSchema, create(StreamEventsRequestSchema, { sessionId }))));
    const slowData: Buffer[] = [];
    let slowTrailers: http2.IncomingHttpHeaders = {};
    slowStream.on("trailers", (t) => {
      slowTrailers = t;
    });
    slowStream.on("error", () => {});
    const slowClosed = new Promise<void>((resolve) => slowStream.once("close", resolve));
    await new Promise<void>((resolve) =>
      slowStream.once("data", (c: Buffer) => {
        slowData.push(c);
        slowStream.pause();
        resolve();
      }),
    );
    try {
      // Another client of the same replica reads everything. The writer waits for it to
      // stay within a few MiB (well inside the limit): a reader that keeps up is never dropped.
      let fastSeq = 0n;
      let progressed: (() => void) | undefined;
      const fast = (async () => {
        const abort = new AbortController();
        for await (const res of reads.streamEvents({ sessionId }, { signal: abort.signal })) {
          expect(res.event?.seq).toBe(fastSeq + 1n);
          fastSeq = res.event?.seq ?? 0n;
          progressed?.();
          if (fastSeq === BigInt(total)) abort.abort();
        }
      })().catch((err: unknown) => (err instanceof ConnectError && err.code === Code.Canceled ? undefined : err));
      const fastWithin = async (seq: bigint) => {
        while (fastSeq < seq) await new Promise<void>((resolve) => (progressed = resolve));
      };

      const start = await memoryOf(reader.pid);
      const text = "x".repeat(1500);
      let last = 1n;
      for (let b = 0; b < batches; b++) {
        const events = Array.from({ length: perBatch }, (_, i) =>
          create(EventSchema, { id: `lag-${b}-${i}`, payload: { case: "userMessage", value: { text } } }),
        );
        await fastWithin(last - BigInt(20 * perBatch));
        last = (await writes.appendEvents({ sessionId, expectedLastSeq: last, events })).lastSeq;
      }
      expect(await fast).toBeUndefined();
      const end = await memoryOf(reader.pid);
      console.log(
        `session daemon, a StreamEvents reader reading nothing while ${total - 1} events (${((batches * perBatch * text.length) / MiB).toFixed(0)} MiB) are appended: start RSS ${(start.rss / MiB).toFixed(1)} MiB, peak RSS ${(end.peak / MiB).toFixed(1)} MiB`,
      );
      // The lag limit, plus what following the log for the other reader leaves for
      // the garbage collector; a queue without a bound holds the whole 143 MiB.
      expect(end.peak - start.rss).toBeLessThan(128 * MiB);
      // The replica goes on serving.
      await reads.createSession({ sessionId: "other", config: { model: "m" } });
      expect((await reads.getSession({ sessionId: "other" })).session?.lastSeq).toBe(1n);

      // The slow client reads again: what was on its way, then a clear error saying where to resume.
      slowStream.on("data", (c: Buffer) => slowData.push(c));
      slowStream.resume();
      await slowClosed;
      expect(slowTrailers["grpc-status"]).toBe(String(Code.ResourceExhausted));
      const message = decodeURIComponent(String(slowTrailers["grpc-message"]));
      expect(message).toContain(`fell too far behind the log: more than ${lagLimit} bytes`);
      const received = responsesOf(Buffer.concat(slowData)).map((r) => Number(r.event?.seq));
      expect(received).toEqual(Array.from({ length: received.length }, (_, i) => i + 1));
      expect(message).toContain(`stream again with after_seq ${received.length}`);
    } finally {
      slow.destroy();
    }
  }, 300_000);
});
