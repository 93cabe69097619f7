import { ExecutorService } from "@reins/proto";
import { bindService, startServer } from "@reins/service-kit";
import { describe, expect, it } from "vitest";

// Browsers call a daemon from another origin only after a CORS preflight. A server started
// with `corsOrigins` answers the preflight for those origins, and only for those.

const allowed = "https://console.example";

async function withServer(test: (url: string) => Promise<void>) {
  await using server = await startServer({
    services: [bindService(ExecutorService, {})],
    corsOrigins: [allowed],
  });
  await test(server.url);
}

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

describe("CORS", () => {
  it("answers a preflight from an allowed origin with the methods and headers Connect needs", async () => {
    await withServer(async (url) => {
      const res = await preflight(url, allowed);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
      expect(res.headers.get("access-control-allow-methods")?.split(/,\s*/)).toContain("POST");
      const allowedHeaders = res.headers.get("access-control-allow-headers")?.toLowerCase().split(/,\s*/);
      expect(allowedHeaders).toEqual(
        expect.arrayContaining(["authorization", "connect-protocol-version", "content-type", "x-grpc-web"]),
      );
    });
  });

  it("lets the allowed origin read the response of the actual call, gRPC status headers included", async () => {
    await withServer(async (url) => {
      const res = await fetch(`${url}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { origin: allowed, "content-type": "application/json", "connect-protocol-version": "1" },
        body: "{}",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
      const exposed = res.headers.get("access-control-expose-headers")?.toLowerCase().split(/,\s*/);
      expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message"]));
      expect(await res.json()).toEqual({ status: "SERVING" });
    });
  });

  it("grants nothing to other origins", async () => {
    await withServer(async (url) => {
      const res = await preflight(url, "https://evil.example");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("access-control-allow-methods")).toBeNull();
    });
  });
});
