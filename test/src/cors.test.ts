import { ExecutorService } from "@reins/proto";
import { bindService, startServer } from "@reins/service-kit";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";

// Browsers call a daemon from another origin only after a CORS preflight. A server configured
// with allowed origins answers the preflight for those origins, and only for those. Proved on
// a bare service-kit server, on the session daemon (REINS_SESSION_CORS_ORIGINS) and on the
// harness daemon (REINS_HARNESS_CORS_ORIGINS), which the web console calls from its own origin.

const allowed = "https://console.example";

interface Target extends AsyncDisposable {
  readonly url: string;
}

const targets: { name: string; start: () => Promise<Target> }[] = [
  {
    name: "a service-kit server",
    start: () => startServer({ services: [bindService(ExecutorService, {})], corsOrigins: [allowed] }),
  },
  {
    name: "the session daemon",
    start: async () => {
      const nats = await startNatsServer();
      try {
        const session = await startDaemon({
          app: "session",
          env: {
            REINS_SESSION_LISTEN: "127.0.0.1:0",
            REINS_NATS_URL: nats.url,
            REINS_SESSION_CORS_ORIGINS: allowed,
          },
        });
        return {
          url: session.url,
          [Symbol.asyncDispose]: async () => {
            await session[Symbol.asyncDispose]();
            await nats.stop();
          },
        };
      } catch (err) {
        await nats.stop();
        throw err;
      }
    },
  },
  {
    name: "the harness daemon",
    start: async () => {
      const nats = await startNatsServer();
      try {
        const harness = await startDaemon({
          app: "harness",
          env: {
            REINS_HARNESS_LISTEN: "127.0.0.1:0",
            REINS_NATS_URL: nats.url,
            REINS_WAKE_MODE: "direct",
            REINS_HARNESS_CORS_ORIGINS: allowed,
          },
        });
        return {
          url: harness.url,
          [Symbol.asyncDispose]: async () => {
            await harness[Symbol.asyncDispose]();
            await nats.stop();
          },
        };
      } catch (err) {
        await nats.stop();
        throw err;
      }
    },
  },
];

function preflight(url: string, origin: string) {
  return fetch(`${url}/grpc.health.v1.Health/Check`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,connect-protocol-version,content-type",
    },
  });
}

const list = (header: string | null) => header?.toLowerCase().split(/,\s*/) ?? [];

describe.each(targets)("CORS on $name", ({ start }) => {
  it("answers a preflight from an allowed origin with the methods and headers Connect and gRPC-Web need", async () => {
    await using target = await start();
    const res = await preflight(target.url, allowed);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(list(res.headers.get("access-control-allow-methods"))).toContain("post");
    expect(list(res.headers.get("access-control-allow-headers"))).toEqual(
      expect.arrayContaining(["authorization", "connect-protocol-version", "content-type", "x-grpc-web"]),
    );
  });

  it("lets the allowed origin read the answer of the actual call, gRPC status headers included", async () => {
    await using target = await start();
    const res = await fetch(`${target.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { origin: allowed, "content-type": "application/json", "connect-protocol-version": "1" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(list(res.headers.get("access-control-expose-headers"))).toEqual(
      expect.arrayContaining(["grpc-status", "grpc-message"]),
    );
    expect(await res.json()).toEqual({ status: "SERVING" });
  });

  it("grants nothing to other origins", async () => {
    await using target = await start();
    const res = await preflight(target.url, "https://evil.example");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
  });
});
