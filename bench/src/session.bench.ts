// Session service benchmark: the service against a raw `nats` client doing the
// same fenced publish, measured in one run on one NATS.
//
//   pnpm bench session
//   (or: cd bench && node --conditions=@reins/source --import tsx src/session.bench.ts)
//
// Needs the built daemon (`pnpm turbo run build --filter=@reins/session`).
// Besides the daemon through gRPC, the same operations run on the store library
// in this process (no RPC) and as empty gRPC calls, so the table shows where the
// time goes: JetStream, the store's own logic, or the RPC transport.
// Baseline and subject alternate in rounds, so load from other processes on the
// machine hits both alike.

import { type ChildProcess, spawn } from "node:child_process";
import http2 from "node:http2";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { withStreamedAppends } from "@reins/harness-core";
import {
  AgentConfigSchema,
  type Event,
  EventBatchSchema,
  EventSchema,
  grpcHealthV1,
  SessionService,
} from "@reins/proto";
import { createGrpcClientTransport } from "@reins/service-kit";
import { createSessionStore, type SessionStore } from "@reins/session-store";
import { startDaemon, startNatsServer } from "@reins/testkit";
import { connect, DeliverPolicy, type JetStreamClient, nanos, StorageType } from "nats";
import { uuidv7 } from "uuidv7";
import { cpuMsOf } from "./support/process-cpu.js";

type Session = Client<typeof SessionService>;
type Op = () => Promise<void>;

const text = "x".repeat(200);
const userMessage = (): Event =>
  create(EventSchema, { id: uuidv7(), payload: { case: "userMessage", value: { text } } });
const now = () => performance.now();

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A raw writer: the same EventBatch body, Nats-Msg-Id and fence the service uses. */
function rawWriter(js: JetStreamClient, subject: string): Op {
  let lastStreamSeq = 0;
  let lastSeq = 0;
  return async () => {
    const event = userMessage();
    event.seq = BigInt(lastSeq + 1);
    event.time = timestampFromMs(Date.now());
    const data = toBinary(EventBatchSchema, create(EventBatchSchema, { events: [event] }));
    const ack = await js.publish(subject, data, { msgID: event.id, expect: { lastSubjectSequence: lastStreamSeq } });
    lastStreamSeq = ack.seq;
    lastSeq += 1;
  };
}

async function rpcWriter(client: Session, sessionId: string): Promise<Op> {
  await client.createSession({ sessionId, config: { model: "bench" } });
  let last = 1n;
  return async () => {
    last = (await client.appendEvents({ sessionId, expectedLastSeq: last, events: [userMessage()] })).lastSeq;
  };
}

async function storeWriter(store: SessionStore, sessionId: string): Promise<Op> {
  await store.createSession({ sessionId, config: create(AgentConfigSchema, { model: "bench" }) });
  let last = 1;
  return async () => {
    last = (await store.appendEvents(sessionId, last, [userMessage()])).lastSeq;
  };
}

/** A bare echo server (support/echo-server.ts) in its own process, like the daemon. */
async function startEcho(mode: "raw" | "connect"): Promise<{ url: string; child: ChildProcess }> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "echo-server.ts");
  const child = spawn(process.execPath, ["--conditions=@reins/source", "--import", "tsx", script, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`echo server exited (${code})`)));
    child.stdout?.once("data", (d) => resolve(String(d).trim()));
  });
  return { url, child };
}

/** One empty unary call with node:http2 alone: the floor of any gRPC call here. */
function rawH2Call(session: http2.ClientHttp2Session): Op {
  const empty = Buffer.alloc(5);
  return () =>
    new Promise<void>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("data", () => {});
      stream.on("error", reject);
      stream.on("close", () => resolve());
      stream.end(empty);
    });
}

async function timeEach(op: Op, n: number, into: number[] = []) {
  for (let i = 0; i < n; i++) {
    const t = now();
    await op();
    into.push(now() - t);
  }
  return into;
}

/** Runs the ops in rounds, alternating, and returns each op's samples. */
async function alternate(ops: readonly Op[], rounds: number, perRound: number): Promise<number[][]> {
  for (const op of ops) await timeEach(op, Math.min(200, perRound));
  const samples = ops.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, op] of ops.entries()) await timeEach(op, perRound, samples[i]);
  }
  return samples;
}

async function main() {
  const loadBefore = loadavg()[0] ?? 0;
  await using nats = await startNatsServer();
  const env = { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_LOG_LEVEL: "info" };
  await using daemon = await startDaemon({ app: "session", env });
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: "RAW_EVENTS",
    subjects: ["raw.events.*"],
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
    allow_direct: true,
  });
  const js = nc.jetstream();
  // The library in this process, as another replica on the same stream and bucket.
  await using store = await createSessionStore({ servers: nats.url });
  // Clients on the same host or LAN should not ask for compression: gzipping a
  // 1000-event page costs more than sending it. The default (gzip, br) is
  // measured once below for comparison.
  const noCompression = { baseUrl: daemon.url, acceptCompression: [] };
  const grpc = createClient(SessionService, createGrpcTransport(noCompression));
  const grpcGzip = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
  const connectH2 = createClient(SessionService, createConnectTransport({ ...noCompression, httpVersion: "2" }));
  const health = createClient(grpcHealthV1.Health, createGrpcTransport(noCompression));
  // The transport the harness uses for its session client.
  const reinsGrpc = createClient(SessionService, createGrpcClientTransport(noCompression));
  const reinsHealth = createClient(grpcHealthV1.Health, createGrpcClientTransport(noCompression));
  // ...and how the harness sends its appends: all on one AppendEventsStream.
  const appendStream = withStreamedAppends(reinsGrpc);
  // Floors: an empty call to bare servers in their own processes.
  const rawEcho = await startEcho("raw");
  const connectEcho = await startEcho("connect");
  // Killed however the run ends.
  process.once("exit", () => {
    rawEcho.child.kill();
    connectEcho.child.kill();
  });
  const rawSession = http2.connect(rawEcho.url);
  const bareConnect = createClient(
    grpcHealthV1.Health,
    createGrpcTransport({ baseUrl: connectEcho.url, acceptCompression: [] }),
  );

  const rows: string[][] = [];
  const row = (measure: string, raw: number | undefined, subject: number, digits: number, higherIsBetter = false) =>
    rows.push([
      measure,
      raw === undefined ? "" : raw.toFixed(digits),
      subject.toFixed(digits),
      raw === undefined ? "" : `${(higherIsBetter ? raw / subject : subject / raw).toFixed(2)}x`,
    ]);

  // 1. Single-event fenced append round trip, one session, sequential.
  {
    const [raw, lib, rpc, reins, onStream, cnt, noop, reinsNoop, bareH2, bareConnectCall] = await alternate(
      [
        rawWriter(js, "raw.events.latency"),
        await storeWriter(store, "latency-lib"),
        await rpcWriter(grpc, "latency-grpc"),
        await rpcWriter(reinsGrpc, "latency-reins"),
        await rpcWriter(appendStream, "latency-stream"),
        await rpcWriter(connectH2, "latency-connect"),
        async () => {
          await health.check({ service: "" });
        },
        async () => {
          await reinsHealth.check({ service: "" });
        },
        rawH2Call(rawSession),
        async () => {
          await bareConnect.check({ service: "" });
        },
      ],
      6,
      300,
    );
    for (const p of [50, 99]) {
      const r = percentile(raw as number[], p);
      const at = (samples: number[] | undefined) => percentile(samples as number[], p);
      row(`append p${p}: service via gRPC (ms)`, r, at(rpc), 3);
      row(`append p${p}: service via gRPC, createGrpcClientTransport (ms)`, r, at(reins), 3);
      row(`append p${p}: service via AppendEventsStream, as the harness (ms)`, r, at(onStream), 3);
      row(`append p${p}: service via Connect/h2 (ms)`, r, at(cnt), 3);
      row(`append p${p}: store library, no RPC (ms)`, r, at(lib), 3);
      row(`empty gRPC call p${p} to the daemon (ms)`, r, at(noop), 3);
      row(`empty gRPC call p${p} to the daemon, createGrpcClientTransport (ms)`, r, at(reinsNoop), 3);
      row(`empty call p${p}, bare node:http2 server and client (ms)`, r, at(bareH2), 3);
      row(`empty call p${p}, bare connect-node server and client (ms)`, r, at(bareConnectCall), 3);
    }
  }

  // 1b. Where an append's time goes: CPU each process spends on one, against
  // what a raw publish costs the same processes. All of this process counts as
  // "client" (it does nothing else meanwhile).
  {
    const n = 1_000;
    const cpuPerOp = async (op: Op) => {
      const pids = [daemon.pid, nats.pid ?? -1, process.pid];
      const before = pids.map(cpuMsOf);
      for (let i = 0; i < n; i++) await op();
      return pids.map((pid, i) => ((cpuMsOf(pid) - (before[i] ?? 0)) * 1000) / n);
    };
    const [, natsRaw, clientRaw] = await cpuPerOp(rawWriter(js, "raw.events.cpu"));
    const [daemonCpu, natsCpu, clientCpu] = await cpuPerOp(await rpcWriter(reinsGrpc, "cpu-reins"));
    row("CPU per append: session daemon (us)", undefined, daemonCpu ?? Number.NaN, 0);
    row("CPU per append: nats-server (us)", natsRaw, natsCpu ?? Number.NaN, 0);
    row("CPU per append: client, createGrpcClientTransport (us)", clientRaw, clientCpu ?? Number.NaN, 0);
    const [daemonStream, natsStream, clientStream] = await cpuPerOp(await rpcWriter(appendStream, "cpu-stream"));
    row("CPU per append on AppendEventsStream: session daemon (us)", undefined, daemonStream ?? Number.NaN, 0);
    row("CPU per append on AppendEventsStream: nats-server (us)", natsRaw, natsStream ?? Number.NaN, 0);
    row("CPU per append on AppendEventsStream: client (us)", clientRaw, clientStream ?? Number.NaN, 0);
    const [daemonEmpty, , clientEmpty] = await cpuPerOp(async () => {
      await reinsHealth.check({ service: "" });
    });
    row("CPU per empty call: session daemon (us)", undefined, daemonEmpty ?? Number.NaN, 0);
    row("CPU per empty call: client, createGrpcClientTransport (us)", undefined, clientEmpty ?? Number.NaN, 0);
  }

  // 2. Pipelined appends: 100 sessions, each writer sequential, all concurrent.
  {
    const sessions = 100;
    const perSession = 30;
    const rate = async (writers: readonly Op[]) => {
      const t = now();
      await Promise.all(writers.map((w) => timeEach(w, perSession)));
      return (sessions * perSession) / ((now() - t) / 1000);
    };
    const ids = Array.from({ length: sessions }, (_, i) => i);
    const sets = [
      ids.map((i) => rawWriter(js, `raw.events.pipe-${i}`)),
      await Promise.all(ids.map((i) => storeWriter(store, `pipe-lib-${i}`))),
      await Promise.all(ids.map((i) => rpcWriter(grpc, `pipe-grpc-${i}`))),
      await Promise.all(ids.map((i) => rpcWriter(appendStream, `pipe-stream-${i}`))),
    ];
    const rates = sets.map(() => [] as number[]);
    for (let round = 0; round < 3; round++) for (const [i, set] of sets.entries()) rates[i]?.push(await rate(set));
    const r = percentile(rates[0] as number[], 50);
    row("pipelined, 100 sessions: service via gRPC (events/s)", r, percentile(rates[2] as number[], 50), 0, true);
    row(
      "pipelined, 100 sessions: service via AppendEventsStream (events/s)",
      r,
      percentile(rates[3] as number[], 50),
      0,
      true,
    );
    row("pipelined, 100 sessions: store library (events/s)", r, percentile(rates[1] as number[], 50), 0, true);
  }

  // 3. A 10,000-event session written one event per append (10,000 messages: the
  //    worst case for reads), through the library replica so the daemon has
  //    never seen it: its first read is a cold one.
  const total = 10_000;
  {
    // A smaller session the daemon reads first, so the cold read below measures
    // a replica that has not read this session, not a process that has not
    // compiled its read path yet.
    const warmup = await storeWriter(store, "warmup");
    for (let i = 0; i < 2_000; i++) await warmup();
    for (let after = 0n; ; ) {
      const page = await grpc.getEvents({ sessionId: "warmup", afterSeq: after });
      if (page.events.length === 0) break;
      after = page.nextAfterSeq;
    }
    const lib = await storeWriter(store, "big");
    const raw = rawWriter(js, "raw.events.big");
    for (let i = 1; i < total; i++) {
      await lib();
      await raw();
    }
    await raw();
  }
  const rawReplay = async () => {
    const consumer = await js.consumers.get("RAW_EVENTS", {
      filterSubjects: "raw.events.big",
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: 1,
    });
    const t = now();
    let n = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const messages = await consumer.consume({
      max_messages: 1000,
      callback: (m) => {
        n += 1;
        if (m.info.pending === 0) done();
      },
    });
    await finished;
    const ms = now() - t;
    messages.stop();
    await consumer.delete();
    if (n !== total) throw new Error(`raw replay read ${n} messages`);
    return ms;
  };
  const pages = async (read: (after: bigint) => Promise<{ events: unknown[]; next: bigint }>) => {
    const t = now();
    let after = 0n;
    let n = 0;
    for (;;) {
      const page = await read(after);
      if (page.events.length === 0) break;
      n += page.events.length;
      after = page.next;
    }
    if (n !== total) throw new Error(`read ${n} events`);
    return now() - t;
  };
  const rpcPages = (client = grpc) =>
    pages(async (after) => {
      const res = await client.getEvents({ sessionId: "big", afterSeq: after, limit: 1000 });
      return { events: res.events, next: res.nextAfterSeq };
    });
  const libPages = () =>
    pages(async (after) => {
      const res = await store.getEvents("big", { afterSeq: after, limit: 1000 });
      return { events: res.events, next: BigInt(res.nextAfterSeq) };
    });
  const replay = async () => {
    const abort = new AbortController();
    const t = now();
    let n = 0;
    try {
      for await (const res of grpc.streamEvents({ sessionId: "big" }, { signal: abort.signal })) {
        n += 1;
        if (res.event?.seq === BigInt(total)) abort.abort();
      }
    } catch {
      // ended by our abort
    }
    if (n !== total) throw new Error(`streamed ${n} events`);
    return now() - t;
  };
  {
    const cold = await rpcPages();
    const samples = [[], [], [], [], [], []] as number[][];
    for (let round = 0; round < 5; round++) {
      samples[0]?.push(await rawReplay());
      samples[1]?.push(await rpcPages());
      samples[2]?.push(await libPages());
      samples[3]?.push(await replay());
      samples[4]?.push(await rpcPages(grpcGzip));
      samples[5]?.push(await rpcPages(reinsGrpc));
    }
    const [raw, rpc, lib, streamed, gzip, reins] = samples.map((s) => percentile(s, 50)) as number[] as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    row("GetEvents 10k events in 10 pages, via gRPC (ms)", raw, rpc, 1);
    row("GetEvents 10k events, createGrpcClientTransport (ms)", raw, reins, 1);
    row("GetEvents 10k events, gRPC client accepting gzip (ms)", raw, gzip, 1);
    row("GetEvents 10k events, first read on a replica (ms)", raw, cold, 1);
    row("GetEvents 10k events, store library (ms)", raw, lib, 1);
    row("StreamEvents replay via gRPC (events/s)", (total / raw) * 1000, (total / streamed) * 1000, 0, true);
  }
  await appendStream.close();
  await nc.close();
  rawSession.close();
  rawEcho.child.kill();
  connectEcho.child.kill();

  const header = ["measure", "raw nats", "subject", "cost vs raw"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log("\nsession service vs raw JetStream (same NATS, same run)");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(
    `load average (1 min) before/after: ${loadBefore.toFixed(1)} / ${(loadavg()[0] ?? 0).toFixed(1)}; targets: append p50 <= 1.30x raw, 10k-event read <= 150 ms`,
  );
}

await main();
