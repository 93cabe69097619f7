import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, RateLimitedError } from "./errors.js";
import { createSessionStore } from "./session-store.js";
import type { StoreMetrics } from "./store-metrics.js";
import { testConfig, userMessage } from "./testing/fixtures.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

function recorder() {
  const seen = { events: 0, bytes: 0, batches: 0, refused: [] as string[], roundTrips: 0 };
  const metrics: StoreMetrics = {
    appended(events, bytes) {
      seen.batches++;
      seen.events += events;
      seen.bytes += bytes;
    },
    refused: (reason) => seen.refused.push(reason),
    natsRoundTrip: () => seen.roundTrips++,
  };
  return { seen, metrics };
}

describe("store metrics", () => {
  it("reports written batches with their events and bytes, fenced appends and rate refusals", async () => {
    const { seen, metrics } = recorder();
    await using store = await createSessionStore(
      { servers: nats.url, requestTimeoutMs: 2_000, maxEventsPerSecond: 1, eventsBurst: 100 },
      () => undefined,
      metrics,
    );
    await store.createSession({ sessionId: "counted", config: testConfig() });
    expect(seen).toMatchObject({ batches: 1, events: 1, refused: [] });
    await store.appendEvents("counted", 1, [userMessage("a"), userMessage("b")]);
    expect(seen).toMatchObject({ batches: 2, events: 3, refused: [] });
    expect(seen.bytes).toBeGreaterThan(0);
    expect(seen.roundTrips).toBe(2);

    // Another writer's view: the log has moved on.
    await expect(store.appendEvents("counted", 1, [userMessage("late")])).rejects.toBeInstanceOf(FencedError);
    expect(seen.refused).toEqual(["fenced"]);
    // Two of the burst's 100 events are spent: 99 more are over the rate.
    const tooMany = Array.from({ length: 99 }, (_, i) => userMessage(`m${i}`));
    await expect(store.appendEvents("counted", 3, tooMany)).rejects.toBeInstanceOf(RateLimitedError);
    expect(seen).toMatchObject({ batches: 2, events: 3, refused: ["fenced", "rate_limited"] });
  });
});
