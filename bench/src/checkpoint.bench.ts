// Checkpoint read benchmark: the latest event of a type (a wake's latest
// `agent.context_compacted`) for sessions of 1,000, 10,000 and 100,000 events,
// against the baseline of finding it by reading the log from seq 1, in one run
// on one NATS.
//
//   pnpm bench checkpoint
//   (or: cd bench && node --conditions=@reins/source --import tsx src/checkpoint.bench.ts)
//
// Runs the store library in this process (no RPC: the RPC's cost is the same
// small unary call whatever the log's length; session.bench.ts measures it).
// "cold" is a replica that has not read the session (a wake after a restart or
// on another replica): GetLatestEvent goes through the index and a seek. "warm"
// is the replica that wrote it. The baseline reads the log from seq 1 with a
// type filter on a replica that has not read it, as a wake did before the index
// kept the latest seqs. Rounds alternate subject and baseline.

import { loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { AgentConfigSchema, type Event, EventSchema, EventType } from "@reins/proto";
import { createSessionStore, type SessionStore } from "@reins/session-store";
import { startNatsServer } from "@reins/testkit";
import { uuidv7 } from "uuidv7";

const sizes = [1_000, 10_000, 100_000];
const batchSize = 100;
const compactEvery = 250;
const rounds = 5;
const latestPerRound = 20;

const text = "x".repeat(200);
const userMessage = (): Event =>
  create(EventSchema, { id: uuidv7(), payload: { case: "userMessage", value: { text } } });
const compaction = (lastSeq: number): Event =>
  create(EventSchema, {
    id: uuidv7(),
    payload: {
      case: "agentContextCompacted",
      value: { summary: text, firstSeq: 1n, lastSeq: BigInt(lastSeq), tokensBefore: 40_000n, tokensAfter: 2_000n },
    },
  });

const now = () => performance.now();
const fmt = (ms: number) => (ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Writes a session of `events` events with a compaction every `compactEvery` events. */
async function writeSession(store: SessionStore, sessionId: string, events: number): Promise<number> {
  await store.createSession({ sessionId, config: create(AgentConfigSchema, { model: "bench" }) });
  let last = 1;
  while (last < events) {
    const batch = Array.from({ length: Math.min(batchSize, events - last) }, userMessage);
    // The last compaction is two batches before the end, as a session goes on after one.
    const at = batch.findIndex((_, i) => (last + 1 + i) % compactEvery === 0 && last + 1 + i <= events - 2 * batchSize);
    if (at >= 0) batch[at] = compaction(last + at);
    last = (await store.appendEvents(sessionId, last, batch)).lastSeq;
  }
  return last;
}

/** The baseline: the latest compaction found by reading the whole log. */
async function scanForLatest(store: SessionStore, sessionId: string): Promise<bigint> {
  let latest = 0n;
  for (let after = 0; ; ) {
    const page = await store.getEvents(sessionId, { afterSeq: after, types: [EventType.AGENT_CONTEXT_COMPACTED] });
    for (const e of page.events) latest = e.seq;
    if (page.nextAfterSeq >= page.lastSeq) return latest;
    after = page.nextAfterSeq;
  }
}

await using nats = await startNatsServer();
const servers = nats.url;
const options = { servers, maxEventsPerSecond: 0, requestTimeoutMs: 30_000 };
await using writer = await createSessionStore(options);
for (const size of sizes) await writeSession(writer, `bench-${size}`, size);
// A replica that never reads a session in full, for the cold latest reads.
await using cold = await createSessionStore(options);

console.log(
  `latest agent.context_compacted, ${rounds} rounds x ${latestPerRound} reads (baseline: 1 read of the whole log per round); load ${loadavg()[0]?.toFixed(2)}`,
);
console.log("  events    cold p50   cold p95   warm p50   baseline p50 (read from seq 1)   baseline/cold");
const coldP50: number[] = [];
for (const size of sizes) {
  const sessionId = `bench-${size}`;
  const expected = BigInt(Math.floor((size - 1) / compactEvery) * compactEvery);
  const coldSamples: number[] = [];
  const warmSamples: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < latestPerRound; i++) {
      const t0 = now();
      const { event } = await cold.getLatestEvent(sessionId, EventType.AGENT_CONTEXT_COMPACTED);
      coldSamples.push(now() - t0);
      if ((event?.seq ?? 0n) !== expected) throw new Error(`cold read found seq ${event?.seq}, expected ${expected}`);
      const t1 = now();
      await writer.getLatestEvent(sessionId, EventType.AGENT_CONTEXT_COMPACTED);
      warmSamples.push(now() - t1);
    }
    // A fresh replica per round: the first full read caches the log.
    await using scanner = await createSessionStore(options);
    const t2 = now();
    const found = await scanForLatest(scanner, sessionId);
    baseline.push(now() - t2);
    if (found !== expected) throw new Error(`baseline found seq ${found}, expected ${expected}`);
  }
  const p50 = percentile(coldSamples, 50);
  coldP50.push(p50);
  console.log(
    `  ${String(size).padStart(7)}   ${fmt(p50).padStart(8)}   ${fmt(percentile(coldSamples, 95)).padStart(8)}   ${fmt(percentile(warmSamples, 50)).padStart(8)}   ${fmt(percentile(baseline, 50)).padStart(30)}   ${(percentile(baseline, 50) / p50).toFixed(0).padStart(12)}x`,
  );
}
console.log(
  `  cold p50 at ${sizes.at(-1)} events / at ${sizes[0]} events: ${((coldP50.at(-1) ?? 0) / (coldP50[0] ?? 1)).toFixed(2)}`,
);
