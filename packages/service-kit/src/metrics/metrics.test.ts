import net from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { grpcHealthV1 } from "@reins/proto";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../server/server.js";
import { createLabelCap, otherLabel } from "./label-cap.js";
import { type MetricsListener, parseMetricsListen, startMetricsListener } from "./metrics-listener.js";
import { createMetricsRegistry } from "./registry.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(maxConnections?: number): Promise<MetricsListener> {
  const listener = await startMetricsListener({
    registry: createMetricsRegistry(),
    ...(maxConnections ? { maxConnections } : {}),
  });
  cleanups.push(() => listener.close());
  return listener;
}

/** One raw HTTP/1.1 exchange: what the server answered before it closed or answered in full. */
function rawRequest(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => socket.write(request));
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
  });
}

describe("metrics listener", () => {
  it("serves the registry in Prometheus text format with process metrics", async () => {
    const listener = await listen();
    const res = await fetch(listener.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    expect((await fetch(new URL("/healthz", listener.url))).status).toBe(200);
  });

  it("answers any other path with 404 and any other method with 405", async () => {
    const listener = await listen();
    const missing = await fetch(new URL("/debug", listener.url));
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("GET /metrics");
    const posted = await fetch(listener.url, { method: "DELETE" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD");
  });

  it("refuses a request with a body without reading it, and closes the connection", async () => {
    const listener = await listen();
    const answer = await rawRequest(
      listener.url,
      "GET /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\nonly the start",
    );
    expect(answer).toMatch(/^HTTP\/1.1 413 /);
    expect(answer.toLowerCase()).toContain("connection: close");
  });

  it("refuses connections beyond its cap", async () => {
    const listener = await listen(2);
    const { port } = new URL(listener.url);
    // Two kept-alive connections, each known to be accepted since each got an answer.
    const held = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(Number(port), "127.0.0.1", () =>
              socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"),
            );
            socket.once("data", () => resolve(socket));
            socket.once("error", reject);
          }),
      ),
    );
    cleanups.push(async () => {
      for (const socket of held) socket.destroy();
    });
    expect(await rawRequest(listener.url, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")).toBe("");
  });

  it("drops a client that does not finish its headers in time", async () => {
    const listener = await startMetricsListener({ registry: createMetricsRegistry(), headersTimeoutMs: 300 });
    cleanups.push(() => listener.close());
    // Headers begun and never ended: the server answers 408 (or just closes), and the connection ends.
    const answer = await rawRequest(listener.url, "GET /metrics HTTP/1.1\r\nhost: x\r\n");
    expect(answer === "" || answer.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("takes its address from the setting, a free port beside a daemon on port 0, or nothing when off", () => {
    expect(parseMetricsListen(undefined, 9401, 7001)).toEqual({ host: "127.0.0.1", port: 9401 });
    expect(parseMetricsListen(undefined, 9401, 0)).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseMetricsListen("0.0.0.0:9500", 9401, 7001)).toEqual({ host: "0.0.0.0", port: 9500 });
    expect(parseMetricsListen("off", 9401, 7001)).toBeUndefined();
    expect(() => parseMetricsListen("nine", 9401, 7001)).toThrow(/invalid listen address "nine"/);
  });
});

describe("label caps", () => {
  it("keeps the first values up to the cap and folds the rest into other", () => {
    const cap = createLabelCap({ max: 2 });
    expect(["a", "b", "c", "a", "d", "b"].map(cap)).toEqual(["a", "b", otherLabel, "a", otherLabel, "b"]);
  });

  it("keeps only allowed values when an allowlist is given", () => {
    const cap = createLabelCap({ max: 10, allow: ["claude-sonnet-4-5"] });
    expect(cap("claude-sonnet-4-5")).toBe("claude-sonnet-4-5");
    expect(cap("made-up-model")).toBe(otherLabel);
  });
});

describe("RPC metrics", () => {
  it("counts unary and streaming calls by service, method and code, over gRPC and Connect", async () => {
    const registry = new Registry();
    const server = await startServer({ services: [], metrics: registry });
    cleanups.push(() => server.close());
    const health = createClient(grpcHealthV1.Health, createGrpcTransport({ baseUrl: server.url }));
    const overConnect = createClient(
      grpcHealthV1.Health,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    );
    await health.check({ service: "" });
    await overConnect.check({ service: "" });
    await expect(health.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
    const abort = new AbortController();
    const watching = (async () => {
      for await (const _ of health.watch({ service: "" }, { signal: abort.signal })) abort.abort();
    })();
    await expect(watching).rejects.toMatchObject({ code: Code.Canceled });
    await expect
      .poll(async () => (await registry.getSingleMetric("reins_rpc_requests_total")?.get())?.values)
      .toEqual(
        expect.arrayContaining([
          { labels: { service: "grpc.health.v1.Health", method: "Check", code: "OK" }, value: 2 },
          { labels: { service: "grpc.health.v1.Health", method: "Check", code: "NOT_FOUND" }, value: 1 },
          { labels: { service: "grpc.health.v1.Health", method: "Watch", code: "CANCELLED" }, value: 1 },
        ]),
      );
    const text = await registry.metrics();
    expect(text).toContain(
      'reins_rpc_duration_seconds_count{service="grpc.health.v1.Health",method="Check",code="OK"} 2',
    );
  });
});
