import { connect, StringCodec } from "nats";
import { describe, expect, it } from "vitest";
import { startNatsCluster } from "./nats-cluster.js";

const sc = StringCodec();

describe("startNatsCluster", { timeout: 90_000 }, () => {
  it("runs an R3 stream that keeps every acknowledged message when its leader is killed and restarted", async () => {
    await using cluster = await startNatsCluster({ size: 3 });
    expect(cluster.urls).toHaveLength(3);
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: "T", subjects: ["t.>"], num_replicas: 3 });
      const js = nc.jetstream();
      const acked: number[] = [];
      for (let i = 1; i <= 20; i++) acked.push(Number((await js.publish("t.x", sc.encode(String(i)))).seq));

      const leader = (await jsm.streams.info("T")).cluster?.leader;
      const victim = cluster.indexOf(leader ?? "");
      expect(victim).toBeGreaterThanOrEqual(0);
      await cluster.kill(victim);
      expect(cluster.nodes[victim]?.running).toBe(false);
      expect(cluster.indexOf(await cluster.waitForMetaLeader())).not.toBe(victim);
      // A new stream leader is elected; publishes retry until it answers.
      for (let i = 21; i <= 40; i++) acked.push(Number((await publishWithRetry(js, String(i))).seq));
      const next = (await jsm.streams.info("T")).cluster?.leader;
      expect(next).not.toBe(leader);

      await cluster.restart(victim);
      // Asked at once, the restarted node may answer from its own copy before it
      // has caught up: decide on the stream once every replica is current again.
      const info = await caughtUp(jsm);
      expect(info.state.messages).toBe(40);
      expect(acked).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    } finally {
      await nc.close();
    }
  });
});

/** The stream's info once it has a leader and every replica reports itself current. */
async function caughtUp(jsm: Awaited<ReturnType<Awaited<ReturnType<typeof connect>>["jetstreamManager"]>>) {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const info = await jsm.streams.info("T").catch(() => undefined);
    const replicas = info?.cluster?.replicas ?? [];
    if (info?.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current)) return info;
    if (Date.now() > deadline) throw new Error(`stream T did not catch up: ${JSON.stringify(info?.cluster)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Until the new leader answers: a publish without one fails at once ("503", no responders), so
// the bound is time, not attempts; an election on a loaded machine can take well over 6 s.
async function publishWithRetry(js: ReturnType<Awaited<ReturnType<typeof connect>>["jetstream"]>, data: string) {
  const deadline = Date.now() + 45_000;
  for (;;) {
    try {
      return await js.publish("t.x", sc.encode(data), { msgID: data, timeout: 2000 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
