import type { Event } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { isUnavailable } from "./errors.js";
import type { SessionStore } from "./session-store.js";
import { seqs, startStore, testConfig, userMessage } from "./testing/fixtures.js";

/** Resolves when the store is (again) connected with its stream in place. */
function whenReady(store: SessionStore): Promise<void> {
  if (store.ready) return Promise.resolve();
  return new Promise((resolve) => {
    const off = store.onReadyChange((ready) => {
      if (!ready) return;
      off();
      resolve();
    });
  });
}

describe("crash safety", () => {
  it("SIGKILL of nats-server under load loses no acked event, and retries write nothing twice", async () => {
    await using nats = await startNatsServer();
    await using store = await startStore(nats.url, { requestTimeoutMs: 1_000 });
    const sessions = Array.from({ length: 10 }, (_, i) => `crash-${i}`);
    for (const id of sessions) await store.createSession({ sessionId: id, config: testConfig() });

    const acked = new Map<string, Event[]>(sessions.map((id) => [id, []]));
    let total = 0;
    let failures = 0;
    let stop = false;
    const milestones: { count: number; resolve: () => void }[] = [];
    const reached = (count: number) => new Promise<void>((resolve) => milestones.push({ count, resolve }));

    const writer = async (sessionId: string) => {
      let expected = 1;
      for (let n = 0; !stop; n++) {
        const batch = Array.from({ length: (n % 3) + 1 }, (_, k) => userMessage(`${sessionId}/${n}.${k}`));
        // Retry the SAME batch at the SAME expected seq until it is acked: the
        // outcome of an attempt cut by the crash is unknown to the writer.
        for (;;) {
          try {
            const res = await store.appendEvents(sessionId, expected, batch);
            acked.get(sessionId)?.push(...res.events);
            expected = res.lastSeq;
            total += res.events.length;
            for (const m of milestones) if (total >= m.count) m.resolve();
            break;
          } catch (err) {
            if (!isUnavailable(err)) throw err;
            failures += 1;
            await whenReady(store);
          }
        }
      }
    };
    const writers = Promise.all(sessions.map(writer));

    await reached(300);
    await nats.kill("SIGKILL");
    await nats.restart();
    await whenReady(store);
    const afterRestart = total;
    await reached(afterRestart + 300);
    stop = true;
    await writers;

    expect(failures).toBeGreaterThan(0); // the kill really cut appends in flight
    await using reader = await startStore(nats.url);
    for (const id of sessions) {
      const log: Event[] = [];
      for (let after = 0; ; ) {
        const page = await reader.getEvents(id, { afterSeq: after });
        if (page.events.length === 0) break;
        log.push(...page.events);
        after = page.nextAfterSeq;
      }
      expect(seqs(log)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
      expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
      // Every acked event is there, at the seq it was acked with.
      const bySeq = new Map(log.map((e) => [Number(e.seq), e.id]));
      for (const event of acked.get(id) ?? []) expect(bySeq.get(Number(event.seq))).toBe(event.id);
    }
  }, 60_000);
});
