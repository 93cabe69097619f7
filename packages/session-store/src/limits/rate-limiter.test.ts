import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limiter.js";

describe("rate limiter (token bucket, injected clock)", () => {
  it("admits a burst, refuses beyond it with the wait until enough tokens, and admits again after refill", () => {
    let t = 0;
    const limiter = createRateLimiter({ perSecond: 10, burst: 20, now: () => t });
    expect(limiter.take("a", 15)).toBe(0);
    expect(limiter.take("a", 5)).toBe(0);
    // Empty: one token takes 100 ms at 10/s; 4 tokens 400 ms.
    expect(limiter.take("a", 1)).toBe(100);
    expect(limiter.take("a", 4)).toBe(400);
    // A refusal takes nothing.
    t = 250;
    expect(limiter.take("a", 4)).toBe(150);
    expect(limiter.take("a", 2)).toBe(0);
    expect(limiter.take("a", 1)).toBe(50);
    t = 300;
    expect(limiter.take("a", 1)).toBe(0);
  });

  it("keeps one bucket per key and never holds more than the burst", () => {
    let t = 0;
    const limiter = createRateLimiter({ perSecond: 10, burst: 20, now: () => t });
    expect(limiter.take("a", 20)).toBe(0);
    expect(limiter.take("b", 20)).toBe(0);
    t = 60_000;
    expect(limiter.take("a", 20)).toBe(0);
    expect(limiter.take("a", 1)).toBeGreaterThan(0);
  });

  it("a request larger than the burst can never pass", () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 20, now: () => 0 });
    expect(limiter.take("a", 21)).toBe(Number.POSITIVE_INFINITY);
  });

  it("drops buckets that have refilled, so idle keys cost no memory", () => {
    let t = 0;
    const limiter = createRateLimiter({ perSecond: 1000, burst: 100, now: () => t });
    for (let i = 0; i < 1000; i++) limiter.take(`idle-${i}`, 1);
    expect(limiter.size).toBe(1000);
    t = 1_000;
    for (let i = 0; i < 50; i++) expect(limiter.take("busy", 1)).toBe(0);
    // The sweep at the 1024th take found every idle bucket full again.
    expect(limiter.size).toBe(1);
  });
});
