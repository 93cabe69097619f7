import { startNatsServer } from "@reins/testkit";
import { AckPolicy, connect, type JsMsg, nanos, RetentionPolicy } from "nats";
import { describe, expect, it } from "vitest";
import { createWakeKeeper } from "./wake-keeper.js";
import { createWakeLeaseTable } from "./wake-lease.js";

const ackWaitMs = 1_000;

/** Blocks this thread's event loop, as a starved or busy replica's would be. */
function stall(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

async function withDelivery(
  test: (msg: JsMsg, fetchAgain: () => Promise<JsMsg | undefined>, url: string) => Promise<void>,
) {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "K", subjects: ["k.>"], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add("K", {
      durable_name: "c",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_deliver: -1,
    });
    await nc.jetstream().publish("k.s1");
    const consumer = await nc.jetstream().consumers.get("K", "c");
    const fetchOne = async () => {
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) return m;
      return undefined;
    };
    const msg = await fetchOne();
    if (!msg) throw new Error("no delivery");
    await test(msg, fetchOne, nats.url);
  } finally {
    await nc.close();
  }
}

describe("the wake keeper", { timeout: 30_000 }, () => {
  it("keeps a delivery through an event-loop stall of more than twice the ack wait", async () => {
    await withDelivery(async (msg, fetchAgain, url) => {
      const keeper = createWakeKeeper({ servers: [url], ackWaitMs });
      try {
        await keeper.ready();
        const table = createWakeLeaseTable(ackWaitMs, Date.now, keeper);
        const lease = table.hold("s1", () => msg.working(), (msg as unknown as { reply: string }).reply);
        stall(2_500);
        expect(lease.lost()).toBe(false);
        // Not handed to anyone else: the server saw the worker's acks.
        expect(await fetchAgain()).toBeUndefined();
        lease.release();
        msg.ack();
      } finally {
        await keeper.close();
      }
    });
  });

  it("lets the delivery go once the event loop is silent for longer than its guard", async () => {
    await withDelivery(async (msg, fetchAgain, url) => {
      const keeper = createWakeKeeper({ servers: [url], ackWaitMs, guardMs: 1_000 });
      try {
        await keeper.ready();
        const table = createWakeLeaseTable(ackWaitMs, Date.now, keeper);
        const lease = table.hold("s1", () => msg.working(), (msg as unknown as { reply: string }).reply);
        stall(3_000);
        expect(lease.lost()).toBe(true);
        expect(() => table.check("s1", "toolu_1")).toThrow(/lease ran out/);
        const again = await fetchAgain();
        expect(again?.redelivered).toBe(true);
        lease.release();
        again?.ack();
      } finally {
        await keeper.close();
      }
    });
  });
});
