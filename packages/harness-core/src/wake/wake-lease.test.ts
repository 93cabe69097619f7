import { afterEach, describe, expect, it, vi } from "vitest";
import { OwnershipLostError } from "../errors.js";
import { createWakeLeaseTable } from "./wake-lease.js";

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("wake leases", () => {
  it("hold while renewed, and are lost a margin before the server's ack wait", () => {
    const c = clock();
    const table = createWakeLeaseTable(1_000, c.now);
    const lease = table.hold("s1");
    c.advance(700);
    lease.renewed();
    c.advance(700);
    expect(lease.lost()).toBe(false);
    table.check("s1", "toolu_1");
    c.advance(100);
    expect(lease.lost()).toBe(true);
    expect(() => table.check("s1", "toolu_1")).toThrow(OwnershipLostError);
  });

  it("never come back once lost, even if renewed late (a paused process waking up)", () => {
    const c = clock();
    const table = createWakeLeaseTable(1_000, c.now);
    const lease = table.hold("s1");
    c.advance(5_000);
    lease.renewed();
    expect(lease.lost()).toBe(true);
  });

  it("are replaced by a newer delivery of the same session", () => {
    const c = clock();
    const table = createWakeLeaseTable(1_000, c.now);
    const old = table.hold("s1");
    const fresh = table.hold("s1");
    expect(old.lost()).toBe(true);
    expect(fresh.lost()).toBe(false);
    old.release();
    c.advance(5_000);
    // The newest lease is the one checked; the old one's release did not remove it.
    expect(() => table.check("s1", "toolu_1")).toThrow(OwnershipLostError);
  });

  it("do not check sessions run without a lease", () => {
    const c = clock();
    const table = createWakeLeaseTable(1_000, c.now);
    table.hold("s1").release();
    c.advance(5_000);
    expect(() => table.check("s1", "toolu_1")).not.toThrow();
    expect(() => table.check("s2", "toolu_1")).not.toThrow();
  });

  describe("kept by the table", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("renew at once, on one timer while held, and before each tool call; the timer stops with the last lease", () => {
      vi.useFakeTimers();
      const table = createWakeLeaseTable(1_000);
      const acks = { s1: 0, s2: 0 };
      const one = table.hold("s1", () => acks.s1++);
      const two = table.hold("s2", () => acks.s2++);
      expect(acks).toEqual({ s1: 1, s2: 1 });
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(table.renewEveryMs * 3);
      expect(acks).toEqual({ s1: 4, s2: 4 });
      table.check("s1", "toolu_1");
      expect(acks).toEqual({ s1: 5, s2: 4 });
      // Held for many ack waits, never lost while the loop keeps time.
      vi.advanceTimersByTime(10_000);
      expect(one.lost()).toBe(false);
      one.release();
      vi.advanceTimersByTime(table.renewEveryMs);
      expect(acks.s1).toBe(5 + Math.floor(10_000 / table.renewEveryMs));
      two.release();
      expect(vi.getTimerCount()).toBe(0);
    });

    it("survive an event-loop stall shorter than the ack wait less margin and one period, and report it as lag", () => {
      vi.useFakeTimers();
      const table = createWakeLeaseTable(2_000);
      let acks = 0;
      const lease = table.hold("s1", () => acks++);
      // The loop is blocked: time passes, no timer fires.
      vi.setSystemTime(Date.now() + 1_400);
      vi.advanceTimersByTime(table.renewEveryMs);
      expect(lease.lost()).toBe(false);
      expect(acks).toBe(2);
      expect(table.lagMs()).toBeGreaterThanOrEqual(1_400);
      lease.release();
    });

    it("stop renewing once a stall outlasted the lease: the server may have handed the session on", () => {
      vi.useFakeTimers();
      const table = createWakeLeaseTable(1_000);
      let acks = 0;
      const lease = table.hold("s1", () => acks++);
      vi.setSystemTime(Date.now() + 900);
      vi.advanceTimersByTime(table.renewEveryMs * 4);
      expect(lease.lost()).toBe(true);
      expect(acks).toBe(1);
      expect(() => table.check("s1", "toolu_1")).toThrow(OwnershipLostError);
      expect(acks).toBe(1);
      lease.release();
    });
  });
});
