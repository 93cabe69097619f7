import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HarnessService, RunState, SessionService } from "@reins/proto";
import { createTestCertificates, startDaemon, startFakeAnthropic, startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";

// TLS between the services with real daemons: the session service requires
// client certificates (mTLS), the harness serves HTTPS, trusts the private CA
// for the session service and presents its client certificate to it.

describe("TLS and mTLS between the daemons", () => {
  it("runs a session over HTTPS through a harness that presents a client certificate, and refuses clients without one", async () => {
    await using certs = await createTestCertificates();
    await using nats = await startNatsServer();
    await using fake = await startFakeAnthropic({ script: () => ({ content: [{ type: "text", text: "Done." }] }) });
    const clientCert = path.join(certs.dir, "client.pem");
    const clientKey = path.join(certs.dir, "client.key");
    await using session = await startDaemon({
      app: "session",
      env: {
        REINS_SESSION_LISTEN: "127.0.0.1:0",
        REINS_NATS_URL: nats.url,
        REINS_SESSION_TLS_CERT: certs.serverCertPath,
        REINS_SESSION_TLS_KEY: certs.serverKeyPath,
        REINS_SESSION_TLS_CLIENT_CA: certs.caPath,
      },
    });
    expect(session.url).toMatch(/^https:/);
    const harnessEnv = (extra: Record<string, string>) => ({
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_HARNESS_TLS_CERT: certs.serverCertPath,
      REINS_HARNESS_TLS_KEY: certs.serverKeyPath,
      REINS_SESSION_URL: session.url,
      REINS_SESSION_CA: certs.caPath,
      REINS_NATS_URL: nats.url,
      ANTHROPIC_API_KEY: "mtls-test-key",
      ANTHROPIC_BASE_URL: fake.url,
      REINS_WAKE_MODE: "direct",
      ...extra,
    });
    await using harness = await startDaemon({
      app: "harness",
      env: harnessEnv({ REINS_HARNESS_CLIENT_CERT: clientCert, REINS_HARNESS_CLIENT_KEY: clientKey }),
    });
    expect(harness.url).toMatch(/^https:/);

    const harnessClient = (url: string) =>
      createClient(HarnessService, createGrpcTransport({ baseUrl: url, nodeOptions: { ca: certs.ca } }));
    for await (const _ of harnessClient(harness.url).runSession({
      sessionId: "mtls-1",
      config: { model: "claude-test" },
      message: "hello",
    })) {
      // until idle
    }

    const sessionsWith = (nodeOptions: object) =>
      createClient(SessionService, createGrpcTransport({ baseUrl: session.url, nodeOptions }));
    const withCert = sessionsWith({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    expect((await withCert.getSession({ sessionId: "mtls-1" })).session?.state).toBe(RunState.IDLE);
    await expect(sessionsWith({ ca: certs.ca }).getSession({ sessionId: "mtls-1" })).rejects.toThrow(
      /certificate required/,
    );

    // A harness without the client certificate cannot reach the session service.
    await using bare = await startDaemon({ app: "harness", env: harnessEnv({}) });
    const err = await harnessClient(bare.url)
      .startSession({ config: { model: "claude-test" }, message: "hello" })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    // connect-node reports the TLS alert as INTERNAL, with the alert in the message.
    expect(err?.code).toBe(Code.Internal);
    expect(err?.rawMessage).toMatch(/alert certificate required/);
  }, 120_000);
});
