// Recovery and scale-out of harness replicas on the wake work queue, all real
// processes (nats-server, session, executor on Docker, harness daemons) and the
// fake Messages API in this process:
//
//   1. Recovery time: SIGKILL of the replica working a session (in a tool call)
//      -> the next event of that session, written by another replica; p50/p95,
//      against the ack wait (the floor: the queue cannot hand a session over
//      before it). The harnesses run with their default settings, which the
//      report states as the daemons logged them; REINS_BENCH_ACK_WAIT_MS sets
//      REINS_WAKE_ACK_WAIT_MS instead.
//   2. Throughput: sessions completed per minute by 1, 2 and 3 replicas, with
//      the CPU seconds each process used, to say what the limit was.
//
//   pnpm bench recovery   (or: cd bench && node --conditions=@reins/source --import tsx src/recovery.bench.ts)
//
// Needs nats-server, the built daemons (`pnpm turbo run build --filter=@reins/harness
// --filter=@reins/session --filter=@reins/executor`) and a Docker engine with the
// reins/sandbox-tiny image (or the one REINS_SANDBOX_IMAGE names).

import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { scriptTurns, startFakeAnthropic } from "@reins/fake-anthropic";
import { testImage } from "@reins/launch";
import { HarnessService, RunState, SessionService } from "@reins/proto";
import { type Daemon, resolveDockerHost, startDaemon, startNatsServer } from "@reins/testkit";
import { connect } from "nats";

const image = testImage();
// Unset: the harness's default, as an operator who sets nothing gets it.
const ackWaitOverride = process.env.REINS_BENCH_ACK_WAIT_MS;
const rounds = Number(process.env.REINS_BENCH_RECOVERY_ROUNDS ?? 20);
const sessionsPerRun = Number(process.env.REINS_BENCH_SESSIONS ?? 24);
// REINS_BENCH_RECOVERY_ONLY=1 skips the throughput part.
const recoveryOnly = process.env.REINS_BENCH_RECOVERY_ONLY === "1";
const token = "recovery-bench-token";
const config = { model: "claude-test", tools: ["sh"] };

const catalog = `
defaults: { image: ${image}, timeout: 60s, memory: 64m, pids: 64, workspace: none }
pool: { size: 4 }
tools:
  - name: sh
    description: Run a shell command.
    input_schema: { type: object, properties: { command: { type: string } }, required: [command] }
    command: { argv: [sh, -c, "{{command}}"] }
`;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Busy share of the whole machine between two readings of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

const dir = await mkdtemp(path.join(tmpdir(), "reins-recovery-bench-"));
const owned: Array<() => Promise<unknown>> = [];
try {
  const toolsFile = path.join(dir, "tools.yaml");
  await writeFile(toolsFile, catalog);
  const nats = await startNatsServer();
  owned.push(() => nats.stop());
  // The recovery session calls a tool every turn, for ever; throughput sessions make two quick calls.
  const fake = await startFakeAnthropic({
    script: (req) => {
      const text = JSON.stringify(req.body?.messages ?? "");
      if (text.includes("forever"))
        return { content: [{ type: "tool_use", name: "sh", input: { command: "echo again" } }] };
      return scriptTurns([
        { content: [{ type: "tool_use", name: "sh", input: { command: "echo one" } }] },
        { content: [{ type: "tool_use", name: "sh", input: { command: "echo two" } }] },
        { content: [{ type: "text", text: "Done." }] },
      ])(req);
    },
  });
  owned.push(() => fake.close());
  const session = await startDaemon({
    app: "session",
    env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
  });
  owned.push(() => session.kill("SIGTERM"));
  const executor = await startDaemon({
    app: "executor",
    env: {
      REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
      REINS_EXECUTOR_TOKEN: token,
      REINS_TOOLS_CONFIG: toolsFile,
      DOCKER_HOST: resolveDockerHost(),
    },
  });
  owned.push(() => executor.kill("SIGTERM"));
  const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: session.url }));

  const replicas: Daemon[] = [];
  const startReplica = async (extra: Record<string, string> = {}) => {
    const daemon = await startDaemon({
      app: "harness",
      env: {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_SESSION_URL: session.url,
        REINS_EXECUTOR_URL: executor.url,
        REINS_EXECUTOR_TOKEN: token,
        REINS_NATS_URL: nats.url,
        ANTHROPIC_API_KEY: "bench-key",
        ANTHROPIC_BASE_URL: fake.url,
        REINS_WAKE_MODE: "queue",
        ...(ackWaitOverride ? { REINS_WAKE_ACK_WAIT_MS: ackWaitOverride } : {}),
        ...extra,
      },
    });
    replicas.push(daemon);
    owned.push(() => daemon.kill("SIGTERM"));
    return daemon;
  };
  const clientOf = (d: Daemon) => createClient(HarnessService, createGrpcTransport({ baseUrl: d.url }));

  const waitFor = async (pred: () => boolean, what: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) {
        const logs = replicas.map((r) => r.output.slice(-15).join("\n")).join("\n--\n");
        const nc = await connect({ servers: nats.url });
        const info = await (await nc.jetstreamManager()).consumers.info("REINS_WAKE", "harness");
        await nc.close();
        throw new Error(
          `timed out waiting for ${what}; consumer ${JSON.stringify({ pending: info.num_pending, ackPending: info.num_ack_pending, waiting: info.num_waiting, redelivered: info.num_redelivered })}; harness logs:\n${logs}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  const settled = async (sessionId: string) => {
    const leave = new AbortController();
    try {
      for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n }, { signal: leave.signal })) {
        if (event?.payload.case !== "sessionStatus") continue;
        const { state } = event.payload.value;
        if (state === RunState.IDLE || state === RunState.TERMINATED) return;
      }
    } finally {
      leave.abort();
    }
  };

  // 1. Recovery time. Every replica here SIGKILLs itself right after its first
  // tool intent is written (the fault hook logs the time), and a session that
  // never ends calls a tool every turn: each crash hands the session to the other
  // live replica, and a fresh replica replaces the dead one.
  const armed = () => startReplica({ REINS_FAULT_INJECTION: "1", REINS_FAULT_CRASH_AFTER: "agent.tool_use_started:1" });
  let live = [await armed(), await armed()];
  // The settings the replicas really run with, from their own startup line.
  const pullingLine = await (async () => {
    for (;;) {
      const line = live[0]?.output.find((l) => l.includes('"pulling wakes"'));
      if (line) return JSON.parse(line) as { ackWaitMs: number; renewEveryMs: number; concurrency: number };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const ackWaitMs = pullingLine.ackWaitMs;
  const arrivals = new Map<bigint, number>();
  const watching = new AbortController();
  const { sessionId: endless } = await clientOf(live[0] as Daemon).startSession({ config, message: "forever" });
  const watch = (async () => {
    for await (const { event } of sessions.streamEvents(
      { sessionId: endless, afterSeq: 0n },
      { signal: watching.signal },
    )) {
      if (event) arrivals.set(event.seq, Date.now());
    }
  })().catch(() => undefined);
  const recoveries: number[] = [];
  // Where the time goes: crash -> the wake taken by another replica (the queue) -> the event (the takeover).
  const queued: number[] = [];
  const takeovers: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const dead = await Promise.race(live.map((d) => d.exited.then(() => d)));
    const line = dead.output.find((l) => l.includes("fault injection: crashing now"));
    if (!line) throw new Error(`a replica died without crashing on purpose:\n${dead.output.join("\n")}`);
    const crash = JSON.parse(line) as { time: number; seq: string };
    live = [...live.filter((d) => d !== dead), await armed()];
    const nextSeq = BigInt(crash.seq) + 1n;
    await waitFor(() => arrivals.has(nextSeq), `seq ${nextSeq} after the crash`);
    const arrived = arrivals.get(nextSeq) ?? Number.NaN;
    recoveries.push(arrived - crash.time);
    const taken = live
      .flatMap((d) => d.output)
      .filter((l) => l.includes("wake redelivered") && l.includes(endless))
      .map((l) => (JSON.parse(l) as { time: number }).time)
      .find((t) => t >= crash.time);
    if (taken !== undefined) {
      queued.push(taken - crash.time);
      takeovers.push(arrived - taken);
    }
  }
  watching.abort();
  await watch;
  for (const r of live) await r.kill("SIGTERM");

  // 2. Throughput with 1, 2, 3 replicas.
  const throughput: Array<{ n: number; perMinute: number; cpu: Record<string, number>; machine: number }> = [];
  for (const n of recoveryOnly ? [] : [1, 2, 3]) {
    const group: Daemon[] = [];
    for (let i = 0; i < n; i++) group.push(await startReplica());
    const pids = {
      harness: () => group.reduce((sum, d) => sum + cpuSeconds(d.pid), 0),
      session: () => cpuSeconds(session.pid),
      executor: () => cpuSeconds(executor.pid),
      "nats-server": () => (nats.pid ? cpuSeconds(nats.pid) : Number.NaN),
      "bench (fake model)": () => process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    };
    const before = Object.fromEntries(Object.entries(pids).map(([k, f]) => [k, f()]));
    const ticks = machineTicks();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: sessionsPerRun }, async (_, i) => {
        const { sessionId } = await clientOf(group[i % n] as Daemon).startSession({ config, message: `go ${i}` });
        await settled(sessionId);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = machineTicks();
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, f]) => [k, (f() - (before[k] ?? 0)) / seconds]));
    throughput.push({
      n,
      perMinute: (sessionsPerRun / seconds) * 60,
      cpu,
      machine: (after.busy - ticks.busy) / (after.total - ticks.total),
    });
    for (const d of group) await d.kill("SIGTERM");
  }

  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`recovery (SIGKILL -> next event by another replica), ${rounds} rounds, ack wait ${fmt(ackWaitMs)}:`);
  console.log(
    `  settings: ${ackWaitOverride ? `REINS_WAKE_ACK_WAIT_MS=${ackWaitOverride}` : "the harness defaults"} ` +
      `(ack wait ${ackWaitMs} ms, in-progress acks every ${pullingLine.renewEveryMs} ms, ` +
      `concurrency ${pullingLine.concurrency}), 2 replicas, each SIGKILLed right after its first tool intent`,
  );
  console.log(
    `  p50 ${fmt(percentile(recoveries, 50))}  p95 ${fmt(percentile(recoveries, 95))}  (baseline: ack wait ${fmt(ackWaitMs)}; ratio p50/ack wait ${(percentile(recoveries, 50) / ackWaitMs).toFixed(2)})`,
  );
  console.log(
    `  of which: crash -> wake taken by another replica p50 ${fmt(percentile(queued, 50))} p95 ${fmt(percentile(queued, 95))}; ` +
      `wake taken -> next event p50 ${fmt(percentile(takeovers, 50))} p95 ${fmt(percentile(takeovers, 95))}`,
  );
  console.log(`  samples (s): ${recoveries.map((r) => (r / 1000).toFixed(2)).join(" ")}`);
  const base = throughput[0]?.perMinute ?? Number.NaN;
  console.log(`throughput: ${sessionsPerRun} sessions of 3 model turns and 2 tool calls (containers), all at once:`);
  for (const t of throughput) {
    const cpu = Object.entries(t.cpu)
      .map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`)
      .join(", ");
    console.log(
      `  ${t.n} replica(s): ${t.perMinute.toFixed(1)} sessions/min (x${(t.perMinute / base).toFixed(2)} of 1 replica); machine busy ${(t.machine * 100).toFixed(0)}% of all cores; CPU of one core: ${cpu}`,
    );
  }
} finally {
  for (const step of owned.splice(0).reverse()) await step().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
