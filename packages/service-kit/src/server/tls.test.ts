import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExecutorService, grpcHealthV1, ListToolsResponseSchema } from "@reins/proto";
import { createTestCertificates } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { bindService, startServer } from "./server.js";

const services = [
  bindService(ExecutorService, { listTools: () => create(ListToolsResponseSchema, { tools: [{ name: "bash" }] }) }),
];

describe("startServer with TLS", () => {
  it("serves gRPC over h2 and Connect/gRPC-Web over HTTP/1.1 on one https port", async () => {
    await using certs = await createTestCertificates();
    await using server = await startServer({ services, tls: { cert: certs.serverCert, key: certs.serverKey } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const nodeOptions = { ca: certs.ca };
    const transports = [
      createGrpcTransport({ baseUrl: server.url, nodeOptions }),
      createConnectTransport({ baseUrl: server.url, httpVersion: "2", nodeOptions }),
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions }),
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions }),
    ];
    for (const transport of transports) {
      expect((await createClient(ExecutorService, transport).listTools({})).tools[0]?.name).toBe("bash");
    }
    // A client that does not trust the CA gets no answer.
    const untrusting = createClient(ExecutorService, createGrpcTransport({ baseUrl: server.url }));
    await expect(untrusting.listTools({})).rejects.toThrow(/unable to verify the first certificate/);
  });

  it("requires a client certificate signed by the CA when one is configured (mTLS)", async () => {
    await using certs = await createTestCertificates();
    await using server = await startServer({
      services,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true },
    });
    const health = (nodeOptions: object) =>
      createClient(grpcHealthV1.Health, createGrpcTransport({ baseUrl: server.url, nodeOptions })).check({
        service: "",
      });
    await expect(health({ ca: certs.ca })).rejects.toThrow(/certificate required/);
    const ok = await health({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    expect(ok.status).toBe(grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING);
  });
});
