import { type Event, RunState, StopReason } from "@reins/proto";
import { connectDocker, type NatsCluster, startNatsCluster, waitForNoContainers } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { startAckedWriter } from "./support/acked-writer.js";
import { type FaultStack, startFaultStack } from "./support/fault-stack.js";
import { logInvariantProblems, lostAcked } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";
import { toolScript } from "./support/tool-script.js";

// The whole stack on a 3-node nats-server cluster with the event stream at R3:
// sessions with tool calls run to the end, and killing the node that leads the
// stream mid-session loses nothing the service acknowledged.

const turns = 4;
const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };

// The node leading the stream's raft group, once a running node leads it: right
// after a kill the old leader is still reported (or the request times out)
// until the survivors have elected a new one.
async function streamLeader(cluster: NatsCluster, stream: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: cluster.urls.filter((_, i) => cluster.nodes[i]?.running) });
  try {
    // No API check: it asks the meta leader, which may be the node just killed.
    const jsm = await nc.jetstreamManager({ timeout: 2000, checkAPI: false });
    for (;;) {
      const info = await jsm.streams.info(stream).catch(() => undefined);
      const leader = cluster.indexOf(info?.cluster?.leader ?? "");
      if (leader >= 0 && cluster.nodes[leader]?.running) return leader;
      if (Date.now() > deadline) throw new Error(`stream ${stream} has no running leader after ${timeoutMs} ms`);
      // Elections have no event a client can await.
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await nc.close();
  }
}

async function startSessions(stack: FaultStack, count: number): Promise<string[]> {
  const harness = stack.harnessClient(stack.liveHarnesses()[0] as never);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await harness.startSession({ config, message: `go ${i}` })).sessionId);
  return ids;
}

describe("the stack on a 3-node NATS cluster, stream replicas 3", { timeout: 240_000 }, () => {
  it("runs sessions with tool calls; killing the stream leader mid-session loses nothing acknowledged", async () => {
    const began = Date.now();
    await using cluster = await startNatsCluster({ size: 3 });
    await using stack = await startFaultStack({ script: toolScript(turns), natsUrl: cluster.url, replicas: 3 });
    const victim = await streamLeader(cluster, "REINS_EVENTS");
    expect(victim).toBeGreaterThanOrEqual(0);
    // nats.js reads REINS_NATS_URL as one server, so each harness gets a node that stays up.
    const survivor = cluster.nodes.find((_, i) => i !== victim)?.url as string;
    await stack.startHarness({ REINS_NATS_URL: survivor });

    // A crash-free round first: the cluster serves the whole flow.
    const warm = await startSessions(stack, 2);
    for (const id of warm) {
      const { events, wakes } = await stack.finish(id);
      expect(wakes).toBe(0);
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(logInvariantProblems(id, events, stack.executions())).toEqual([]);
    }

    const writer = await startAckedWriter(stack.sessions, `cluster-probe-${process.pid}`);
    const ids = await startSessions(stack, 6);
    // Mid-session: the first tool results are in the log of every session.
    await stack.fake.waitForRequests(stack.fake.requests.length + ids.length);
    await cluster.kill(victim);
    const newLeader = await streamLeader(cluster, "REINS_EVENTS");
    expect(newLeader).not.toBe(victim);

    const finished = await Promise.all(ids.map((id) => stack.finish(id, { stallMs: 15_000 })));
    const acked = await writer.stop();
    await cluster.restart(victim);

    for (const [i, id] of ids.entries()) {
      const events = (finished[i] as { events: Event[] }).events;
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(logInvariantProblems(id, events, stack.executions())).toEqual([]);
      // Every session ran every step: nothing it wrote was dropped.
      expect(events.filter((e) => e.payload.case === "agentToolResult")).toHaveLength(turns - 1);
    }
    const readBack = await stack.events(`cluster-probe-${process.pid}`);
    expect(acked.length).toBeGreaterThan(0);
    expect(lostAcked(acked, readBack)).toEqual([]);
    expect(readBack.length).toBe(acked.length + 1);

    // The executor stops its warm pool on the way down: nothing it made is left.
    await stack[Symbol.asyncDispose]();
    await waitForNoContainers(connectDocker(), stack.containerLabel);

    const wakes = finished.reduce((n, f) => n + f.wakes, 0);
    const events = finished.reduce((n, f) => n + f.events.length, 0);
    console.log(
      `cluster: killed stream leader n${victim + 1}; ${ids.length} sessions, ${events} events, ${wakes} wakes; ` +
        `probe ${acked.length} acked appends (${writer.retries} retried); ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );
  });
});
