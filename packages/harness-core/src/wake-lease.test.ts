import { describe, expect, it } from "vitest";
import { FencedError } from "./session-log.js";
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
    expect(() => table.check("s1", "toolu_1")).toThrow(FencedError);
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
    expect(() => table.check("s1", "toolu_1")).toThrow(FencedError);
  });

  it("do not check sessions run without a lease", () => {
    const c = clock();
    const table = createWakeLeaseTable(1_000, c.now);
    table.hold("s1").release();
    c.advance(5_000);
    expect(() => table.check("s1", "toolu_1")).not.toThrow();
    expect(() => table.check("s2", "toolu_1")).not.toThrow();
  });
});
