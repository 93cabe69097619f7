import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecuteResponseSchema, ExecutorService, ListToolsResponseSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createGrpcClientTransport } from "./grpc-client-transport.js";
import { bindService, startServer } from "./server/index.js";

// The fast unary transport must give callers what connect-node's gives them: every case
// is called through both, and the outcomes (message, headers, trailers, or error) compared.

interface Outcome {
  message?: unknown;
  header?: Record<string, string>;
  trailer?: Record<string, string>;
  code?: Code;
  error?: string;
  metadata?: Record<string, string>;
}

const asRecord = (h: Headers) => {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (k !== "date") out[k] = v;
  });
  return out;
};

async function outcome(
  transport: Transport,
  call: (client: ReturnType<typeof createClient<typeof ExecutorService>>, options: object) => Promise<unknown>,
): Promise<Outcome> {
  const client = createClient(ExecutorService, transport);
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  try {
    const message = await call(client, {
      onHeader: (h: Headers) => (header = h),
      onTrailer: (t: Headers) => (trailer = t),
    });
    return {
      message,
      ...(header ? { header: asRecord(header) } : {}),
      ...(trailer ? { trailer: asRecord(trailer) } : {}),
    };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, error: e.rawMessage, metadata: asRecord(e.metadata) };
  }
}

const envelope = (bytes: Uint8Array) => {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
};

/** A server that answers every call with what `answer` writes on the stream. */
async function rawServer(answer: (stream: http2.ServerHttp2Stream) => void) {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("error", () => {}); // a reset stream errors; the client side is under test
    stream.on("data", () => {});
    stream.on("end", () => answer(stream));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (s) => sessions.add(s));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async [Symbol.asyncDispose]() {
      for (const s of sessions) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const both = (baseUrl: string, extra: object = {}) => ({
  fast: createGrpcClientTransport({ baseUrl, ...extra }),
  connect: createGrpcTransport({ baseUrl, ...extra }),
});

describe("createGrpcClientTransport", () => {
  it("gives the same answers and errors as connect-node's transport", async () => {
    await using server = await startServer({
      services: [
        bindService(ExecutorService, {
          listTools: (_req, ctx) => {
            ctx.responseHeader.set("x-header", "h");
            ctx.responseTrailer.set("x-trailer", "t");
            return create(ListToolsResponseSchema, {
              tools: Array.from({ length: 60 }, (_, i) => ({ name: `tool-${i}`, description: "d".repeat(40) })),
            });
          },
          execute: async (req, ctx) => {
            if (req.name === "slow") await new Promise((resolve) => setTimeout(resolve, 2_000));
            if (req.name === "missing") {
              throw new ConnectError(`no tool "${req.name}"`, Code.NotFound, { "x-why": "absent" });
            }
            if (req.name === "boom") throw new Error("not a ConnectError");
            ctx.responseTrailer.set("x-ran", req.name);
            return create(ExecuteResponseSchema, { output: `ran ${req.name}` });
          },
        }),
      ],
    });
    const calls: [string, Parameters<typeof outcome>[1]][] = [
      ["ok", (c, o) => c.execute({ name: "echo", sessionId: "s" }, o)],
      ["large answer, compressed", (c, o) => c.listTools({}, o)],
      ["ConnectError with metadata", (c, o) => c.execute({ name: "missing" }, o)],
      ["other error", (c, o) => c.execute({ name: "boom" }, o)],
      ["deadline", (c, o) => c.execute({ name: "slow" }, { ...o, timeoutMs: 50 })],
      ["aborted", (c, o) => c.execute({ name: "slow" }, { ...o, signal: AbortSignal.timeout(50) })],
    ];
    for (const extra of [{}, { acceptCompression: [] }]) {
      const { fast, connect } = both(server.url, extra);
      for (const [name, call] of calls) {
        expect({ name, ...(await outcome(fast, call)) }).toEqual({ name, ...(await outcome(connect, call)) });
      }
    }
  });

  it("reports a server that is not there as connect-node does", async () => {
    const { fast, connect } = both("http://127.0.0.1:1");
    const call: Parameters<typeof outcome>[1] = (c, o) => c.execute({ name: "echo" }, o);
    const [a, b] = [await outcome(fast, call), await outcome(connect, call)];
    expect(a).toEqual(b);
    expect(a.code).toBe(Code.Unavailable);
  });

  it("reports broken answers as connect-node does", async () => {
    const ok = envelope(toBinary(ExecuteResponseSchema, create(ExecuteResponseSchema, { output: "x" })));
    const answers: [string, (stream: http2.ServerHttp2Stream) => void][] = [
      ["two messages", (s) => respond(s, Buffer.concat([ok, ok]), { "grpc-status": "0" })],
      ["no status", (s) => respond(s, ok, {})],
      ["no message", (s) => respond(s, Buffer.alloc(0), { "grpc-status": "0" })],
      ["truncated", (s) => respond(s, ok.subarray(0, ok.length - 1), { "grpc-status": "0" })],
      ["error status with a message", (s) => respond(s, ok, { "grpc-status": "5", "grpc-message": "gone" })],
      ["reset", (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM)],
      ["http 503", (s) => s.respond({ ":status": 503 }, { endStream: true })],
      ["connection dropped mid-call", (s) => s.session?.destroy()],
      [
        "connection dropped mid-answer",
        (s) => {
          s.respond({ ":status": 200, "content-type": "application/grpc+proto" });
          s.write(ok.subarray(0, 3), () => s.session?.destroy());
        },
      ],
    ];
    for (const [name, answer] of answers) {
      await using server = await rawServer(answer);
      const { fast, connect } = both(server.url);
      const call: Parameters<typeof outcome>[1] = (c, o) => c.execute({ name: "echo" }, o);
      expect({ name, ...(await outcome(fast, call)) }).toEqual({ name, ...(await outcome(connect, call)) });
    }
  });
});

function respond(stream: http2.ServerHttp2Stream, body: Buffer, trailers: http2.OutgoingHttpHeaders) {
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(trailers));
  stream.end(body);
}
