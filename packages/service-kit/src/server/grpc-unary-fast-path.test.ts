import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  ExecuteRequestSchema,
  ExecuteResponseSchema,
  ExecutorService,
  ListToolsRequestSchema,
  ListToolsResponseSchema,
} from "@reins/proto";
import { describe, expect, it, vi } from "vitest";
import { bindService, startServer } from "./server.js";

// The fast path must answer exactly as connect-node does: every case is sent, byte for
// byte, to a server with it and one without, and the raw HTTP/2 answers compared.

const envelope = (bytes: Uint8Array, flags = 0) => {
  const out = Buffer.alloc(5 + bytes.length);
  out[0] = flags;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
};
const listTools = toBinary(ListToolsRequestSchema, create(ListToolsRequestSchema, {}));
const execute = (name: string) =>
  toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, { sessionId: "s", name }));

interface Answer {
  status: number | undefined;
  headers: Record<string, unknown>;
  trailers: Record<string, unknown>;
  body: string;
}

async function call(url: string, path: string, body: Buffer, extra: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  const session = http2.connect(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...extra,
      });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("close", () => {
        const { date: _date, ...rest } = headers;
        resolve({
          status: Number(headers[":status"]),
          headers: rest,
          trailers: { ...trailers },
          body: Buffer.concat(chunks).toString("hex"),
        });
      });
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

const metadataInterceptor: Interceptor = (next) => async (req) => {
  if (req.header.get("x-fail") === "metadata") {
    throw new ConnectError("refused by policy", Code.PermissionDenied, { "x-why": "policy" });
  }
  const res = await next(req);
  res.header.set("x-seen", req.method.name);
  return res;
};

async function startBoth() {
  const services = [
    bindService(ExecutorService, {
      listTools: (_req, ctx) => {
        ctx.responseTrailer.set("x-trailer", "yes");
        return create(ListToolsResponseSchema, {
          tools: Array.from({ length: 40 }, (_, i) => ({ name: `tool-${i}`, description: "d".repeat(50) })),
        });
      },
      execute: (req) => {
        if (req.name === "boom") throw new Error("not a ConnectError");
        if (req.name === "missing") throw new ConnectError(`no tool "${req.name}"`, Code.NotFound);
        return create(ExecuteResponseSchema, { output: `ran ${req.name}` });
      },
    }),
  ];
  const options = { services, interceptors: [metadataInterceptor], readMaxBytes: 4096 };
  const fast = await startServer({ ...options, unaryFastPath: true });
  const slow = await startServer({ ...options, unaryFastPath: false });
  return {
    fast,
    slow,
    async [Symbol.asyncDispose]() {
      await fast.close();
      await slow.close();
    },
  };
}

describe("unary fast path", () => {
  it("answers every case exactly as connect-node does", async () => {
    await using servers = await startBoth();
    const executePath = "/reins.executor.v1.ExecutorService/Execute";
    const listPath = "/reins.executor.v1.ExecutorService/ListTools";
    const cases: [string, string, Buffer, http2.OutgoingHttpHeaders?][] = [
      ["ok", executePath, envelope(execute("echo"))],
      ["ok, proto content type", executePath, envelope(execute("echo")), { "content-type": "application/grpc+proto" }],
      ["handler headers and trailers", listPath, envelope(listTools)],
      ["large answer, gzip accepted", listPath, envelope(listTools), { "grpc-accept-encoding": "gzip" }],
      ["ConnectError", executePath, envelope(execute("missing"))],
      ["other error", executePath, envelope(execute("boom"))],
      ["interceptor error with metadata", executePath, envelope(execute("echo")), { "x-fail": "metadata" }],
      ["no message", executePath, Buffer.alloc(0)],
      ["two messages", executePath, Buffer.concat([envelope(execute("a")), envelope(execute("b"))])],
      ["truncated envelope", executePath, envelope(execute("echo")).subarray(0, 8)],
      ["compressed flag without encoding", executePath, envelope(execute("echo"), 1)],
      ["message over readMaxBytes", executePath, envelope(execute("x".repeat(5000)))],
      ["not protobuf", executePath, envelope(Buffer.from([0xff, 0xff, 0xff]))],
      ["deadline header", executePath, envelope(execute("echo")), { "grpc-timeout": "5S" }],
      ["query string", `${executePath}?x=1`, envelope(execute("echo"))],
    ];
    for (const [name, path, body, extra] of cases) {
      const fast = await call(servers.fast.url, path, body, extra);
      const slow = await call(servers.slow.url, path, body, extra);
      expect({ name, ...fast }).toEqual({ name, ...slow });
    }
  });

  it("serves plain unary gRPC itself and leaves other calls to connect-node", async () => {
    await using servers = await startBoth();
    const writeHead = vi.spyOn(http2.Http2ServerResponse.prototype, "writeHead");
    try {
      const path = "/reins.executor.v1.ExecutorService/Execute";
      await call(servers.fast.url, path, envelope(execute("echo")));
      expect(writeHead).not.toHaveBeenCalled();
      await call(servers.slow.url, path, envelope(execute("echo")));
      expect(writeHead).toHaveBeenCalledTimes(1);
      // An unparsable deadline, a browser's origin, a compressed request: connect answers.
      for (const extra of [{ "grpc-timeout": "bogus" }, { origin: "http://x" }, { "grpc-encoding": "gzip" }]) {
        const fast = await call(servers.fast.url, path, envelope(execute("echo")), extra);
        const slow = await call(servers.slow.url, path, envelope(execute("echo")), extra);
        expect(fast).toEqual(slow);
      }
      expect(writeHead).toHaveBeenCalledTimes(7);
    } finally {
      writeHead.mockRestore();
    }
  });

  it("stops reading a body larger than one message, answers RESOURCE_EXHAUSTED and resets the stream", async () => {
    // A grace longer than the test: close() returns in time only if the stream is over on the server too.
    const server = await startServer({
      services: [bindService(ExecutorService, { execute: () => create(ExecuteResponseSchema, {}) })],
      readMaxBytes: 4096,
      shutdownGraceMs: 10 * 60_000,
    });
    const session = http2.connect(server.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/reins.executor.v1.ExecutorService/Execute",
        "content-type": "application/grpc",
        te: "trailers",
      });
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("error", () => {});
      stream.resume();
      const closed = new Promise<void>((resolve) => stream.once("close", resolve));
      let over = false;
      void closed.then(() => (over = true));
      // A first envelope within readMaxBytes (4096), then a body that does not end.
      const head = envelope(execute("x")).subarray(0, 5);
      head.writeUInt32BE(4096, 1);
      stream.write(head);
      const chunk = Buffer.alloc(16 * 1024);
      let sent = 0;
      while (!over && sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!stream.write(chunk)) await Promise.race([new Promise((r) => stream.once("drain", r)), closed]);
      }
      await closed;
      expect(trailers["grpc-status"]).toBe(String(Code.ResourceExhausted));
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toBe(
        "request body is larger than one message of configured readMaxBytes 4096 (plus its 5-byte prefix)",
      );
      // The reset stopped the upload long before its end.
      expect(sent).toBeLessThan(1024 * 1024);
    } finally {
      session.close();
      await server.close();
    }
  });
});
