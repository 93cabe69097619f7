import { type Event, RunState, StopReason } from "@reins/proto";
import { connectDocker, dockerCleanup, startNatsServer, waitForNoContainers } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { type FaultStack, startFaultStack } from "./support/fault-stack.js";
import { logInvariantProblems } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";
import { toolScript } from "./support/tool-script.js";

// Soak: many concurrent sessions of about ten turns with a tool call each, three
// harness replicas sharing the wake queue, and a random replica SIGKILLed every
// few seconds (a replacement started each time). Every session must finish and
// every log invariant must hold. REINS_SOAK=long runs 200 sessions; the default
// is a short run for CI. REINS_SOAK_SESSIONS, REINS_SOAK_ACK_WAIT_MS and
// REINS_SOAK_CONCURRENCY override the session count, the wake queue's ack wait and
// the sessions one replica works at once.

const long = process.env.REINS_SOAK === "long";
const sessionCount = Number(process.env.REINS_SOAK_SESSIONS ?? (long ? 200 : 20));
const turns = 10;
const replicas = 3;
const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// StartSession on some live replica; a replica killed under the call is retried on another.
async function startSession(stack: FaultStack, i: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const live = stack.liveHarnesses();
    const target = live[i % Math.max(live.length, 1)];
    try {
      if (!target) throw new Error("no live harness");
      return (await stack.harnessClient(target).startSession({ config, message: `soak ${i}` })).sessionId;
    } catch (err) {
      if (attempt >= 20) throw err;
      await pause(250);
    }
  }
}

describe("soak", { timeout: long ? 3_600_000 : 600_000 }, () => {
  it(`${sessionCount} sessions of ${turns} turns on ${replicas} harness replicas killed at random: all finish, every invariant holds`, async () => {
    const began = Date.now();
    await using nats = await startNatsServer();
    await using stack = await startFaultStack({
      script: toolScript(turns, 50),
      natsUrl: nats.url,
      // 2 s by default: on a loaded two-core machine, 1 s also passes but live
      // replicas lose many leases (their in-progress acks arrive late).
      harnessEnv: {
        REINS_WAKE_ACK_WAIT_MS: process.env.REINS_SOAK_ACK_WAIT_MS ?? "2000",
        // Every session at once, even on the two replicas left between a kill and its
        // replacement: a wake waiting for a free slot is no fault, but it makes no
        // progress, and the stall check below would take it for one.
        REINS_WAKE_CONCURRENCY: process.env.REINS_SOAK_CONCURRENCY ?? String(Math.max(64, sessionCount)),
      },
    });
    // Whatever the executor leaves behind if the test fails half-way goes too.
    const docker = connectDocker();
    await using _containers = dockerCleanup(docker, stack.containerLabel);
    await Promise.all(Array.from({ length: replicas }, () => stack.startHarness()));

    const ids = await Promise.all(Array.from({ length: sessionCount }, (_, i) => startSession(stack, i)));
    let done = false;
    let kills = 0;
    const killer = (async () => {
      while (!done) {
        await pause(2000 + Math.random() * 2000);
        if (done) break;
        const live = stack.liveHarnesses();
        const victim = live[Math.floor(Math.random() * live.length)];
        if (!victim) continue;
        await victim.kill("SIGKILL");
        kills++;
        await stack.startHarness();
      }
    })();

    let finished: Array<{ events: Event[]; wakes: number }>;
    try {
      // A Wake from the test is only a fallback that the assertions below reject:
      // the wake queue alone must move every session off a dead replica.
      const stallMs = long ? 120_000 : 20_000;
      finished = await Promise.all(ids.map((id) => stack.finish(id, { stallMs, maxWakes: 20 })));
    } finally {
      done = true;
      await killer;
    }

    const executions = stack.executions();
    const problems = ids.flatMap((id, i) => logInvariantProblems(id, finished[i]?.events ?? [], executions));
    expect(problems).toEqual([]);
    for (const { events } of finished) expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    // Every step of every session ran: a crash cuts a call's outcome, never a step.
    for (const { events } of finished) {
      expect(events.filter((e) => e.payload.case === "agentToolResult")).toHaveLength(turns - 1);
    }

    const harnessLog = stack.allHarnesses().flatMap((d) => d.output);
    const recoveries = harnessLog.filter((line) => line.includes("wake redelivered: resuming the session")).length;
    // A live replica that lost its lease (it was slower than the ack wait) and stood down.
    const lost = harnessLog.filter((line) => line.includes("wake lease lost"));
    const leasesLost = lost.length;
    // The event-loop lag the losing replicas measured when they stood down.
    const lags = lost.map((line) => (JSON.parse(line) as { lagMs?: number }).lagMs ?? 0).sort((a, b) => a - b);
    const wakes = finished.reduce((n, f) => n + f.wakes, 0);
    const events = finished.reduce((n, f) => n + f.events.length, 0);
    const unknown = finished
      .flatMap((f) => f.events)
      .filter((e) => e.payload.case === "agentToolResult" && e.payload.value.output.includes("outcome unknown")).length;
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    console.log(
      `soak: ${sessionCount} sessions, ${events} events, ${executions.length} tool executions, ${kills} kills, ` +
        `${recoveries} redelivered wakes, ${leasesLost} leases lost by live replicas, ${wakes} test Wakes, ${unknown} outcome-unknown results, ` +
        `${seconds} s`,
    );
    if (lags.length > 0) {
      const at = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
      console.log(`lag measured by replicas that lost a lease: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`);
    }
    const executorLog = stack.executor().output;
    await stack[Symbol.asyncDispose]();
    try {
      await waitForNoContainers(docker, stack.containerLabel, 60_000);
    } catch (err) {
      // What the executor said about each container it left.
      const left = await docker.listContainers({ all: true, filters: { label: [stack.containerLabel] } });
      for (const c of left) {
        const lines = executorLog.filter((line) => line.includes(c.Id.slice(0, 12))).slice(-5);
        console.log(`left behind: ${c.Id.slice(0, 12)} ${c.State} (${c.Status})\n${lines.join("\n")}`);
      }
      console.log(`the executor's last lines:\n${executorLog.slice(-15).join("\n")}`);
      throw err;
    }
    // What the replicas said about any session the queue left without a runner.
    for (const [i, id] of ids.entries()) {
      if (!finished[i]?.wakes) continue;
      const lines = harnessLog.filter((line) => line.includes(id)).slice(-8);
      console.log(`needed ${finished[i]?.wakes} Wake(s): ${id}\n${lines.map((l) => l.slice(0, 300)).join("\n")}`);
    }
    expect(kills).toBeGreaterThan(0);
    expect(wakes).toBe(0);
  });
});
