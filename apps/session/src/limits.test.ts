import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { DurationSchema, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EventSchema, SessionService } from "@reins/proto";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";

// These tests spawn the built daemon (apps/session/dist/main.js): build it first
// with `pnpm turbo run build --filter=@reins/session`.

let n = 0;
const message = (text: string) =>
  create(EventSchema, { id: `limits-${++n}`, payload: { case: "userMessage", value: { text } } });

const env = (natsUrl: string) => ({
  REINS_SESSION_LISTEN: "127.0.0.1:0",
  REINS_NATS_URL: natsUrl,
  REINS_SESSION_MAX_LOG_BYTES: String(64 * 1024),
  REINS_SESSION_MAX_EVENTS_PER_SEC: "2",
  REINS_SESSION_EVENTS_BURST: "100",
});

const clientOf = (url: string) => createClient(SessionService, createGrpcTransport({ baseUrl: url }));

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error("expected the append to be refused");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

/** google.rpc.RetryInfo.retry_delay from grpc-status-details-bin, in ms. */
function retryDelayMs(err: ConnectError): number | undefined {
  for (const detail of err.details) {
    if (!("type" in detail) || detail.type !== "google.rpc.RetryInfo") continue;
    const reader = new BinaryReader(detail.value);
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (no === 1) return durationMs(fromBinary(DurationSchema, reader.bytes()));
      reader.skip(wireType);
    }
  }
  return undefined;
}

describe("session daemon limits (env)", () => {
  it("refuses an append past REINS_SESSION_MAX_LOG_BYTES, also after a restart", async () => {
    await using nats = await startNatsServer();
    let size: bigint;
    {
      await using daemon = await startDaemon({ app: "session", env: env(nats.url) });
      const c = clientOf(daemon.url);
      await c.createSession({ sessionId: "big", config: { model: "m" } });
      // Under the 100-event burst: only the size limit is in play.
      await c.appendEvents({ sessionId: "big", expectedLastSeq: 1n, events: [message("x".repeat(40_000))] });
      size = (await c.getSession({ sessionId: "big" })).session?.logBytes ?? 0n;
      const err = await refusal(
        c.appendEvents({ sessionId: "big", expectedLastSeq: 2n, events: [message("y".repeat(30_000))] }),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toContain(`the log holds ${size} bytes`);
      expect(err.rawMessage).toContain(`over the limit of ${64 * 1024} bytes per session`);
      expect(retryDelayMs(err)).toBeUndefined();
    }
    await using daemon = await startDaemon({ app: "session", env: env(nats.url) });
    const c = clientOf(daemon.url);
    expect((await c.getSession({ sessionId: "big" })).session?.logBytes).toBe(size);
    const err = await refusal(
      c.appendEvents({ sessionId: "big", expectedLastSeq: 2n, events: [message("y".repeat(30_000))] }),
    );
    expect(err.code).toBe(Code.ResourceExhausted);
    expect((await c.getEvents({ sessionId: "big" })).lastSeq).toBe(2n);
  });

  it("refuses past REINS_SESSION_MAX_EVENTS_PER_SEC with a RetryInfo over gRPC, and accepts after it", async () => {
    await using nats = await startNatsServer();
    await using daemon = await startDaemon({ app: "session", env: env(nats.url) });
    const c = clientOf(daemon.url);
    await c.createSession({ sessionId: "busy", config: { model: "m" } });
    const burst = Array.from({ length: 100 }, (_, i) => message(`e${i}`));
    expect((await c.appendEvents({ sessionId: "busy", expectedLastSeq: 1n, events: burst })).lastSeq).toBe(101n);
    const err = await refusal(c.appendEvents({ sessionId: "busy", expectedLastSeq: 101n, events: [message("x")] }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("over the limit of 2 events per second (burst 100)");
    const hint = retryDelayMs(err);
    expect(hint).toBeGreaterThan(0);
    expect(hint).toBeLessThanOrEqual(500);
    await new Promise((resolve) => setTimeout(resolve, hint));
    // The hint is when one token is back, so at most a retry or two more.
    for (let attempt = 0; ; attempt++) {
      const res = await c.appendEvents({ sessionId: "busy", expectedLastSeq: 101n, events: [message("x")] }).then(
        (r) => r,
        (e: unknown) => ConnectError.from(e),
      );
      if (!(res instanceof ConnectError)) {
        expect(res.lastSeq).toBe(102n);
        break;
      }
      expect(attempt).toBeLessThan(5);
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs(res) ?? 100));
    }
  });
});
