import { describe, expect, it } from "vitest";
import { createReschedulePolicy } from "./reschedule.js";

describe("createReschedulePolicy", () => {
  it("doubles the wait from the first, up to the cap, and gives up after its attempts", () => {
    const policy = createReschedulePolicy({ attempts: 6, firstDelayMs: 1_000, maxDelayMs: 10_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => policy.delayMs(n))).toEqual([
      1_000,
      2_000,
      4_000,
      8_000,
      10_000,
      10_000,
      undefined,
    ]);
    expect(policy.attempts).toBe(6);
  });

  it("shortens each wait by at most the jitter's share, and the waits still grow", () => {
    for (const r of [0, 0.5, 0.999]) {
      const policy = createReschedulePolicy({ attempts: 3, firstDelayMs: 1_000, jitter: 0.25, random: () => r });
      const waits = [1, 2, 3].map((n) => policy.delayMs(n) ?? Number.NaN);
      expect(waits[0]).toBeGreaterThanOrEqual(750);
      expect(waits[0]).toBeLessThanOrEqual(1_000);
      expect(waits[1]).toBeGreaterThan(waits[0] as number);
      expect(waits[2]).toBeGreaterThan(waits[1] as number);
    }
  });

  it("has no attempt 0, no fractional attempt, and none at all when attempts is 0", () => {
    const policy = createReschedulePolicy({ firstDelayMs: 10 });
    expect(policy.delayMs(0)).toBeUndefined();
    expect(policy.delayMs(1.5)).toBeUndefined();
    expect(createReschedulePolicy({ attempts: 0 }).delayMs(1)).toBeUndefined();
  });
});
