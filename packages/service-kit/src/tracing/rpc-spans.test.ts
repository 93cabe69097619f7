import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { context, SpanKind, trace } from "@opentelemetry/api";
import {
  ExecutorService,
  grpcHealthV1,
  ListToolsResponseSchema,
  SessionService,
  StreamEventsResponseSchema,
} from "@reins/proto";
import { afterEach, describe, expect, it } from "vitest";
import { bindService, type ReinsServer, startServer } from "../server/index.js";
import { registerInMemoryTracing } from "../testing/in-memory-tracing.js";
import { createTraceContextInterceptor } from "./rpc-spans.js";
import { startTracing } from "./start-tracing.js";
import { contextFromTraceparent, currentTraceId, currentTraceparent } from "./trace-context.js";

const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const clientSpan = "00f067aa0ba902b7";
const traceparent = `00-${clientTrace}-${clientSpan}-01`;

let server: ReinsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

// ListTools answers with the trace id its handler runs under, so a test sees
// the handler's context as well as the span.
async function startEchoServer(): Promise<ReinsServer> {
  server = await startServer({
    services: [
      bindService(ExecutorService, {
        listTools: () => create(ListToolsResponseSchema, { tools: [{ name: currentTraceId() || "none" }] }),
      }),
    ],
  });
  return server;
}

describe("server spans", () => {
  it("makes one span per call, a child of the caller's traceparent, on the fast path and through connect-node", async () => {
    await using tracing = registerInMemoryTracing();
    const s = await startEchoServer();
    const transports = {
      grpc: createGrpcTransport({ baseUrl: s.url }),
      connect_rpc: createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }),
    };
    for (const [system, transport] of Object.entries(transports)) {
      const res = await createClient(ExecutorService, transport).listTools({}, { headers: { traceparent } });
      expect(res.tools[0]?.name).toBe(clientTrace);
      const span = tracing.spans().at(-1);
      expect(span?.name).toBe("reins.executor.v1.ExecutorService/ListTools");
      expect(span?.kind).toBe(SpanKind.SERVER);
      expect(span?.spanContext().traceId).toBe(clientTrace);
      expect(span?.parentSpanContext?.spanId).toBe(clientSpan);
      expect(span?.attributes).toEqual({
        "rpc.system": system,
        "rpc.service": "reins.executor.v1.ExecutorService",
        "rpc.method": "ListTools",
        "rpc.grpc.status_code": 0,
      });
    }
    expect(tracing.spans()).toHaveLength(2);
    // A probe's health check makes no span.
    await createClient(grpcHealthV1.Health, transports.grpc).check({ service: "" }, { headers: { traceparent } });
    expect(tracing.spans()).toHaveLength(2);
  });

  it("starts a new trace for a call without traceparent, and records a refusal's code", async () => {
    await using tracing = registerInMemoryTracing();
    const s = await startEchoServer();
    const client = createClient(ExecutorService, createGrpcTransport({ baseUrl: s.url }));
    const res = await client.listTools({});
    expect(res.tools[0]?.name).toMatch(/^[0-9a-f]{32}$/);
    expect(res.tools[0]?.name).not.toBe(clientTrace);
    await expect(client.execute({ name: "x" }, { headers: { traceparent } })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });
    const refused = tracing.spans().find((span) => span.name.endsWith("/Execute"));
    expect(refused?.attributes["rpc.grpc.status_code"]).toBe(Code.Unimplemented);
    expect(refused?.attributes["error.type"]).toBe("Unimplemented");
  });

  it("sends the active context from a client, so a call from inside a span continues its trace", async () => {
    await using tracing = registerInMemoryTracing();
    const s = await startEchoServer();
    const client = createClient(
      ExecutorService,
      createGrpcTransport({ baseUrl: s.url, interceptors: [createTraceContextInterceptor()] }),
    );
    const res = await context.with(contextFromTraceparent(traceparent), () =>
      trace.getTracer("test").startActiveSpan("caller", async (span) => {
        expect(currentTraceparent().traceparent).toBe(`00-${clientTrace}-${span.spanContext().spanId}-01`);
        const answer = await client.listTools({});
        span.end();
        return answer;
      }),
    );
    expect(res.tools[0]?.name).toBe(clientTrace);
    const caller = tracing.spans().find((span) => span.name === "caller");
    const served = tracing.spans().find((span) => span.name.endsWith("/ListTools"));
    expect(served?.parentSpanContext?.spanId).toBe(caller?.spanContext().spanId);
  });
});

describe("server spans of streaming calls", () => {
  it("run the handler in the call's span as it is pulled, and end with the stream, also when the client leaves", async () => {
    await using tracing = registerInMemoryTracing();
    server = await startServer({
      services: [
        bindService(SessionService, {
          async *streamEvents(req, ctx) {
            for (let seq = 1n; seq <= req.afterSeq; seq++) {
              yield create(StreamEventsResponseSchema, { event: { seq, traceId: currentTraceId() } });
            }
            // "follow": past the asked-for events, the stream follows until the client leaves.
            if (req.sessionId === "follow") {
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
            }
          },
        }),
      ],
    });
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
    const whole: string[] = [];
    for await (const res of client.streamEvents({ afterSeq: 2n }, { headers: { traceparent } })) {
      whole.push(res.event?.traceId ?? "");
    }
    expect(whole).toEqual([clientTrace, clientTrace]);
    const [ended] = tracing.spans();
    expect(ended?.name).toBe("reins.session.v1.SessionService/StreamEvents");
    expect(ended?.parentSpanContext?.spanId).toBe(clientSpan);
    expect(ended?.attributes["rpc.grpc.status_code"]).toBe(0);

    const leave = new AbortController();
    const followed = client.streamEvents(
      { sessionId: "follow", afterSeq: 1n },
      { headers: { traceparent }, signal: leave.signal },
    );
    await expect(
      (async () => {
        for await (const _ of followed) leave.abort();
      })(),
    ).rejects.toMatchObject({ code: Code.Canceled });
    const left = await until(() => tracing.spans()[1]);
    expect(left.attributes["rpc.grpc.status_code"]).toBe(Code.Canceled);
  });
});

/** Resolves with `take()` once it returns a value, checking on each turn of the event loop. */
async function until<T>(take: () => T | undefined): Promise<T> {
  for (;;) {
    const value = take();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("startTracing", () => {
  it("registers nothing when unconfigured: spans are not recorded and no context is read or sent", async () => {
    await using tracing = startTracing("reins-test", {});
    expect(tracing.config.enabled).toBe(false);
    const s = await startEchoServer();
    const res = await createClient(ExecutorService, createGrpcTransport({ baseUrl: s.url })).listTools(
      {},
      { headers: { traceparent } },
    );
    expect(res.tools[0]?.name).toBe("none");
    trace.getTracer("test").startActiveSpan("ignored", (span) => {
      expect(span.isRecording()).toBe(false);
      expect(currentTraceId()).toBe("");
      expect(currentTraceparent()).toEqual({ traceparent: "", tracestate: "" });
      span.end();
    });
  });

  it("exports spans as OTLP/HTTP protobuf to the configured endpoint, flushing on shutdown", async () => {
    const bodies: { path: string; type: string; body: Buffer }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", type: req.headers["content-type"] ?? "", body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const tracing = startTracing("reins-test", { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
      trace.getTracer("test").startActiveSpan("exported-span-name", (span) => span.end());
      await tracing.shutdown();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]?.path).toBe("/v1/traces");
      expect(bodies[0]?.type).toBe("application/x-protobuf");
      expect(bodies[0]?.body.includes("exported-span-name")).toBe(true);
      expect(bodies[0]?.body.includes("reins-test")).toBe(true);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
