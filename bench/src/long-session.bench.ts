// Long-session benchmark, each figure next to a baseline measured in the same run:
//
//   1. Wake -> next model request for sessions of 1,000, 10,000 and 100,000
//      events, with the compactions context management would have made, against
//      the 1,000-event session (the target: the 100,000-event wake within 1.5x of
//      it) and against a 10,000-event session with no compaction (read from seq 1).
//      "warm": the session replica that wrote the log; "fresh": a session replica
//      (and harness) started after it, that never saw the session. Such a replica
//      reads a session's whole log once, on its first append to it (event-id
//      idempotency): the new input before each wake is that append, timed apart.
//   2. Harness RSS with 1,000 idle sessions in the index, and with 100 sessions
//      running at once against a model that answers in 2 s, against the same
//      process before it ran any session.
//
//   pnpm bench long-session     (REINS_BENCH_PART=wake or =memory: one part alone)
//   (or: cd bench && node --conditions=@reins/source --import tsx src/long-session.bench.ts)
//
// Needs nats-server and the built daemons (`pnpm exec turbo run build`): the
// session and harness daemons run from dist/ as real processes. The logs are
// written straight through the session service, not through 100,000 model turns.

import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { scriptTurns, startFakeAnthropic } from "@reins/fake-anthropic";
import { AgentConfigSchema, HarnessService, RunState, SessionService } from "@reins/proto";
import { createGrpcClientTransport } from "@reins/service-kit";
import { type Daemon, startDaemon, startNatsServer } from "@reins/testkit";
import { compactedHistory, userMessage } from "./support/compacted-history.js";
import { rssMbOf } from "./support/process-rss.js";
import { startNullExecutor } from "./support/tool-turns.js";

const sizes = [1_000, 10_000, 100_000];
const rounds = 5;
const now = () => performance.now();
const ms = (v: number) => `${v.toFixed(1)} ms`;
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const p50 = (s: readonly number[]) => percentile(s, 50);

const config = create(AgentConfigSchema, {
  model: "claude-bench",
  systemPrompt: "You are a benchmark.",
  toolDefinitions: [{ name: "bash", description: "run", inputSchemaJson: '{"type":"object"}' }],
});

await using nats = await startNatsServer();
await using fake = await startFakeAnthropic({ script: scriptTurns([], { content: [{ type: "text", text: "Ok." }] }) });
await using executor = await startNullExecutor();
const sessionDaemon = () =>
  startDaemon({
    app: "session",
    env: {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      REINS_LOG_LEVEL: "info",
      // The logs are written at once, far faster and longer than one session's limits allow.
      REINS_SESSION_MAX_LOG_BYTES: "0",
      REINS_SESSION_MAX_EVENTS_PER_SEC: "0",
    },
  });
const harnessDaemon = (session: Daemon) =>
  startDaemon({
    app: "harness",
    env: {
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_SESSION_URL: session.url,
      REINS_EXECUTOR_URL: executor.url,
      REINS_NATS_URL: nats.url,
      REINS_WAKE_MODE: "direct",
      REINS_LOG_LEVEL: "info",
      ANTHROPIC_API_KEY: "bench",
      ANTHROPIC_BASE_URL: fake.url,
    },
  });
const sessionsOf = (d: Daemon) => createClient(SessionService, createGrpcClientTransport({ baseUrl: d.url }));
const harnessOf = (d: Daemon) => createClient(HarnessService, createGrpcTransport({ baseUrl: d.url }));

await using writer = await sessionDaemon();
const sessions = sessionsOf(writer);

/** Writes a session of about `size` events (compactions every few turns unless `compact` is false). */
async function writeSession(sessionId: string, size: number, compact: boolean) {
  await sessions.createSession({ sessionId, config });
  let last = 1n;
  const events = compactedHistory(size - 1, compact);
  for (let i = 0; i < events.length; i += 100) {
    const batch = events.slice(i, i + 100);
    last = (await sessions.appendEvents({ sessionId, expectedLastSeq: last, events: batch })).lastSeq;
  }
  return last;
}

/**
 * New input, appended through `via` (the writer unless given), then Wake: the
 * time to the model request it leads to, and the time the append took.
 */
async function timeWake(
  harness: Client<typeof HarnessService>,
  sessionId: string,
  via: Client<typeof SessionService> = sessions,
): Promise<{ wake: number; append: number }> {
  const { session } = await sessions.getSession({ sessionId });
  const t = now();
  const { lastSeq } = await via.appendEvents({
    sessionId,
    expectedLastSeq: session?.lastSeq ?? 0n,
    events: [userMessage("and now?")],
  });
  const append = now() - t;
  const count = fake.requests.length;
  const arrived = fake.waitForRequests(count + 1, 60_000);
  const t0 = now();
  await harness.wake({ sessionId });
  const requests = await arrived;
  const wake = (requests[count]?.receivedAt ?? Number.NaN) - t0;
  await idleAfter(sessionId, lastSeq);
  return { wake, append };
}

/** Resolves when the session's log says idle after `afterSeq`: the run is over. */
async function idleAfter(sessionId: string, afterSeq: bigint) {
  const leave = new AbortController();
  try {
    for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal: leave.signal })) {
      if (event?.payload.case === "sessionStatus" && event.payload.value.state === RunState.IDLE) return;
    }
  } finally {
    leave.abort();
  }
}

/**
 * Resolves when the session index says idle. Polled with unary calls: a
 * StreamEvents cancelled per session, a thousand times over one connection,
 * trips HTTP/2's rapid-reset protection in the session daemon (GOAWAY).
 */
async function idleInIndex(sessionId: string) {
  for (;;) {
    const { session } = await sessions.getSession({ sessionId });
    if (session?.state === RunState.IDLE) return;
    await sleep(50);
  }
}

async function wakeBench() {
  const t = now();
  for (const size of sizes) await writeSession(`long-${size}`, size, true);
  await writeSession("flat-10000", 10_000, false);
  console.log(`wrote ${sizes.map((s) => s.toLocaleString("en-US")).join(" / ")}-event sessions in ${ms(now() - t)}`);
  const ids = [...sizes.map((s) => `long-${s}`), "flat-10000"];
  const samples = () => new Map<string, number[]>(ids.map((id) => [id, []]));
  const [warm, fresh, firstAppend] = [samples(), samples(), samples()];
  await using warmHarness = await harnessDaemon(writer);
  const warmClient = harnessOf(warmHarness);
  await writeSession("warm-up", 100, true);
  for (const id of ids) await timeWake(warmClient, id); // warm-up: connections, JIT
  for (let round = 0; round < rounds; round++) {
    for (const id of ids) warm.get(id)?.push((await timeWake(warmClient, id)).wake);
    // A session replica (and a harness on it) started now has seen none of the sessions.
    await using replica = await sessionDaemon();
    await using freshHarness = await harnessDaemon(replica);
    const freshClient = harnessOf(freshHarness);
    const replicaClient = sessionsOf(replica);
    await timeWake(freshClient, "warm-up", replicaClient);
    for (const id of ids) {
      const { wake, append } = await timeWake(freshClient, id, replicaClient);
      fresh.get(id)?.push(wake);
      firstAppend.get(id)?.push(append);
    }
  }
  console.log(`\nWake -> next model request, ${rounds} rounds; load ${loadavg()[0]?.toFixed(2)}`);
  console.log(
    "  session                                   warm p50  warm p95 | fresh p50 fresh p95 | 1st append p50 on a fresh replica",
  );
  for (const id of ids) {
    const [w, f, a] = [warm.get(id) ?? [], fresh.get(id) ?? [], firstAppend.get(id) ?? []];
    const size = Number(id.split("-")[1]).toLocaleString("en-US");
    const label = id.startsWith("flat") ? `${size} events, no compaction (from seq 1)` : `${size} events, compacted`;
    console.log(
      `  ${label.padEnd(40)} ${ms(p50(w)).padStart(9)} ${ms(percentile(w, 95)).padStart(9)} | ${ms(p50(f)).padStart(9)} ${ms(percentile(f, 95)).padStart(9)} | ${ms(p50(a)).padStart(9)}`,
    );
  }
  const ratio = (m: Map<string, number[]>) =>
    (p50(m.get(`long-${sizes.at(-1)}`) ?? []) / p50(m.get(`long-${sizes[0]}`) ?? [])).toFixed(2);
  console.log(
    `  wake p50, ${sizes.at(-1)?.toLocaleString("en-US")} / ${sizes[0]?.toLocaleString("en-US")} events: warm ${ratio(warm)}x, fresh ${ratio(fresh)}x (target <= 1.5x); first append ${ratio(firstAppend)}x`,
  );
}

async function memoryBench() {
  await using harness = await harnessDaemon(writer);
  const client = harnessOf(harness);
  const quick = scriptTurns([], { content: [{ type: "text", text: "Ok." }] });
  fake.setScript(quick);
  await runAll(client, 5, 5); // warm-up
  await sleep(2_000);
  const before = rssMbOf(harness.pid);

  console.log("running 1,000 sessions, 20 at a time, twice");
  const idleStart = now();
  await runAll(client, 1_000, 20);
  await sleep(2_000);
  const idle = rssMbOf(harness.pid);
  // 1,000 more: a process that keeps something per session grows again, a heap's high-water mark does not.
  await runAll(client, 1_000, 20);
  await sleep(2_000);
  const idle2 = rssMbOf(harness.pid);
  console.log(
    `\nHarness RSS: before any session ${before.toFixed(0)} MB; 1,000 idle sessions ${idle.toFixed(0)} MB (+${(idle - before).toFixed(0)} MB; ran in ${ms(now() - idleStart)}), 2,000 ${idle2.toFixed(0)} MB`,
  );

  console.log("running 100 sessions at once");
  // One answer after 2 s for each of 100 sessions at once.
  fake.setScript(async (request) => {
    await sleep(2_000);
    return quick(request);
  });
  const peak = { rss: 0 };
  let done = false;
  const sampling = (async () => {
    for (;;) {
      peak.rss = Math.max(peak.rss, rssMbOf(harness.pid));
      if (done) return;
      await sleep(100);
    }
  })();
  const t = now();
  const inFlight = fake.waitForRequests(fake.requests.length + 100, 60_000);
  const all = runAll(client, 100, 100);
  await inFlight;
  const atOnce = rssMbOf(harness.pid);
  await all;
  done = true;
  await sampling;
  console.log(
    `  100 sessions at once (a 2 s model answer each, ${ms(now() - t)}): ${atOnce.toFixed(0)} MB with 100 requests in flight, peak ${peak.rss.toFixed(0)} MB (+${(peak.rss - idle2).toFixed(0)} MB over idle)`,
  );
}

/** Starts `n` sessions, `parallel` at a time, and waits until each is idle again. */
async function runAll(client: Client<typeof HarnessService>, n: number, parallel: number) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { sessionId } = await client.startSession({ config, message: "go" });
      await idleInIndex(sessionId);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

// REINS_BENCH_PART=wake or =memory runs one part alone.
const part = process.env.REINS_BENCH_PART;
if (part !== "memory") await wakeBench();
if (part !== "wake") await memoryBench();
