// Harness benchmark, each figure next to a baseline measured in the same run:
//
//   1. Time to first model request: StartSession -> the request arriving at the
//      (fake) Messages API, p50/p95, against the harness-inside-the-container
//      design, which must provision a sandbox (docker create + start) before the
//      model can be called.
//   2. Harness overhead per turn, excluding model and tool time, against the
//      floor it is made of: the appends a turn needs, timed alone.
//   3. Wake of a 1,000-event session to its next model request, against Wake of
//      a fresh (2-event) session.
//
//   pnpm bench harness     (or: cd bench && node --conditions=@reins/source --import tsx src/harness.bench.ts)
//
// Needs nats-server, the built session daemon (`pnpm turbo run build --filter=@reins/session`)
// and, for the baseline of 1, a Docker engine with the reins/sandbox-tiny image
// or the one REINS_SANDBOX_IMAGE names (scripts/ensure-docker.sh, scripts/build-images.sh). The harness runs in this
// process, so model and tool time can be measured around its adapters.

import { spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { scriptTurns, startFakeAnthropic } from "@reins/fake-anthropic";
import {
  createAnthropicAdapter,
  createExecutorPool,
  createHarnessServiceImpl,
  createNatsDeltaBus,
  createSessionRunner,
  type ExecutorPool,
  type ModelAdapter,
  withStreamedAppends,
} from "@reins/harness-core";
import { testImage } from "@reins/launch";
import { AgentConfigSchema, type Event, EventSchema, HarnessService, SessionService } from "@reins/proto";
import { bindService, createGrpcClientTransport, startServer } from "@reins/service-kit";
import { connectDocker, startDaemon, startNatsServer } from "@reins/testkit";
import { connect, type NatsConnection } from "nats";
import { uuidv7 } from "uuidv7";
import { startNullExecutor, toolTurnsScript } from "./support/tool-turns.js";

const sandboxImage = testImage();
const benchLabel = "reins.bench=harness";
const now = () => performance.now();

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;

type Interval = { sessionId: string; start: number; end: number };
/** One turn: its overhead, and the part of it spent waiting for AppendEvents. */
type TurnFigures = { overhead: number; appending: number };

/** Records the time spent inside the model adapter and the executor, per session. */
function instrument(model: ModelAdapter, executors: ExecutorPool) {
  const modelCalls: Interval[] = [];
  const toolCalls: Interval[] = [];
  let current = "";
  return {
    modelCalls,
    toolCalls,
    model: {
      async stream(request, options) {
        const start = now();
        const sessionId = current;
        try {
          return await model.stream(request, options);
        } finally {
          modelCalls.push({ sessionId, start, end: now() });
        }
      },
    } satisfies ModelAdapter,
    executors: {
      ...executors,
      async execute(address, call, signal) {
        const start = now();
        try {
          return await executors.execute(address, call, signal);
        } finally {
          toolCalls.push({ sessionId: call.sessionId, start, end: now() });
        }
      },
    } satisfies ExecutorPool,
    // Sessions of the overhead run go one at a time, so the current one is known.
    setCurrent(sessionId: string) {
      current = sessionId;
    },
  };
}

/**
 * Per turn: from one model request to the next, minus model time and tool time
 * (parallel calls merged); and the part of it spent waiting for AppendEvents.
 */
function overheadPerTurn(
  modelCalls: Interval[],
  toolCalls: Interval[],
  appends: Interval[],
  sessionId: string,
): TurnFigures[] {
  const calls = modelCalls.filter((c) => c.sessionId === sessionId).sort((a, b) => a.start - b.start);
  const turns: TurnFigures[] = [];
  for (let i = 0; i + 1 < calls.length; i++) {
    const turn = calls[i] as Interval;
    const next = calls[i + 1] as Interval;
    const within = (t: Interval) => t.sessionId === sessionId && t.start >= turn.end && t.end <= next.start;
    const tools = toolCalls.filter(within);
    const toolTime =
      tools.length === 0 ? 0 : Math.max(...tools.map((t) => t.end)) - Math.min(...tools.map((t) => t.start));
    const appending = appends.filter(within).reduce((sum, a) => sum + (a.end - a.start), 0);
    turns.push({ overhead: next.start - turn.start - (turn.end - turn.start) - toolTime, appending });
    if (process.env.REINS_BENCH_DEBUG) {
      const a = appends.filter((t) => t.sessionId === sessionId && t.start >= turn.start && t.start < next.end);
      console.log(
        `model ${(turn.end - turn.start).toFixed(2)}`,
        a.map((x) => `append@${(x.start - turn.start).toFixed(2)}+${(x.end - x.start).toFixed(2)}`).join(" "),
        tools.map((x) => `tool@${(x.start - turn.start).toFixed(2)}+${(x.end - x.start).toFixed(2)}`).join(" "),
        `next@${(next.start - turn.start).toFixed(2)}`,
      );
    }
  }
  return turns;
}

/** A harness in this process, its model adapter and executor pool timed (see instrument). */
async function startHarness(
  sessions: Client<typeof SessionService>,
  nc: NatsConnection,
  modelUrl: string,
  executorUrl: string,
) {
  const meter = instrument(
    createAnthropicAdapter({ apiKey: "bench", baseURL: modelUrl }),
    createExecutorPool({ defaultAddress: executorUrl }),
  );
  const deltas = createNatsDeltaBus(nc);
  const runner = createSessionRunner({ sessions, model: meter.model, executors: meter.executors, deltas });
  const server = await startServer({
    services: [
      bindService(HarnessService, createHarnessServiceImpl({ sessions, executors: meter.executors, runner, deltas })),
    ],
  });
  return {
    meter,
    runner,
    harness: createClient(HarnessService, createGrpcTransport({ baseUrl: server.url })),
    async [Symbol.asyncDispose]() {
      await runner.close();
      await server.close();
    },
  };
}

/** support/model-and-tools.ts in its own process. */
async function startRemoteModelAndTools(
  chunkDelayMs: number,
): Promise<{ model: string; executor: string } & AsyncDisposable> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "model-and-tools.ts");
  const child = spawn(process.execPath, ["--conditions=@reins/source", "--import", "tsx", script, `${chunkDelayMs}`], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const urls = await new Promise<{ model: string; executor: string }>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`model-and-tools exited (${code})`)));
    child.stdout?.once("data", (d) => resolve(JSON.parse(String(d))));
  });
  return {
    ...urls,
    async [Symbol.asyncDispose]() {
      child.stdin?.end();
      await exited;
    },
  };
}

/** Runs `sessions` sessions of turnsPerSession turns, one at a time; the figures of each turn. */
async function measureTurns(
  h: Awaited<ReturnType<typeof startHarness>>,
  config: ReturnType<typeof create<typeof AgentConfigSchema>>,
  appends: Interval[],
  sessions: number,
) {
  const turns: TurnFigures[] = [];
  for (let s = 0; s < sessions; s++) {
    const sessionId = `bench-turns-${uuidv7()}`;
    h.meter.setCurrent(sessionId);
    await h.harness.startSession({ sessionId, config, message: "go" });
    await h.runner.runSession(sessionId);
    turns.push(...overheadPerTurn(h.meter.modelCalls, h.meter.toolCalls, appends, sessionId));
  }
  return turns;
}

async function main() {
  await using nats = await startNatsServer();
  await using sessionDaemon = await startDaemon({
    app: "session",
    env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_LOG_LEVEL: "info" },
  });
  // The harness daemon's session client (apps/harness/src/main.ts): its transport, no compression.
  const rawSessions = createClient(
    SessionService,
    createGrpcClientTransport({ baseUrl: sessionDaemon.url, acceptCompression: [] }),
  );
  // Its appends share one stream, as there.
  const streamed = withStreamedAppends(rawSessions);
  // AppendEvents round trips, timed per session: the floor of every turn.
  const appends: Interval[] = [];
  const sessions: typeof rawSessions = {
    ...streamed,
    async appendEvents(request, options) {
      const start = now();
      try {
        return await streamed.appendEvents(request, options);
      } finally {
        appends.push({ sessionId: request.sessionId ?? "", start, end: now() });
      }
    },
  };
  await using fake = await startFakeAnthropic({ script: toolTurnsScript() });
  await using executor = await startNullExecutor();
  const nc = await connect({ servers: nats.url });
  await using local = await startHarness(sessions, nc, fake.url, executor.url);
  const { harness } = local;
  const config = create(AgentConfigSchema, {
    model: "claude-bench",
    systemPrompt: "You are a benchmark.",
    toolDefinitions: [{ name: "bash", description: "run", inputSchemaJson: '{"type":"object"}' }],
  });
  const oneShot = () => fake.setScript(scriptTurns([{ content: [{ type: "text", text: "Hi." }] }]));

  // Warm-up: connections, JIT.
  oneShot();
  for (let i = 0; i < 5; i++) await firstRequest(harness, fake, config);

  // 1. Time to first model request, harness vs. provision-then-call, alternating.
  const docker = connectDocker();
  await docker.getImage(sandboxImage).inspect();
  const ttft: number[] = [];
  const baseline: number[] = [];
  const rounds = Number(process.env.REINS_BENCH_ROUNDS ?? 60);
  for (let i = 0; i < rounds; i++) {
    ttft.push(await firstRequest(harness, fake, config));
    const t0 = now();
    const container = await docker.createContainer({
      Image: sandboxImage,
      Cmd: ["sleep", "600"],
      Labels: { "reins.bench": "harness" },
      HostConfig: { NetworkMode: "none", AutoRemove: false },
    });
    await container.start();
    const provisioned = now() - t0;
    baseline.push(provisioned + (await firstRequest(harness, fake, config)));
    await container.remove({ force: true });
  }
  const leftovers = await docker.listContainers({ all: true, filters: { label: [benchLabel] } });
  await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true })));

  // 2. Overhead per turn, with the model API and the executor in another process,
  // as deployed: a model that writes its answer at once, then one that streams it
  // over some 100 ms (far quicker than a real one), which leaves the machine idle
  // while it answers, as a real model does.
  const instant: TurnFigures[] = [];
  const streaming: TurnFigures[] = [];
  for (const [chunkDelayMs, sessionCount, into] of [
    [0, 5, instant],
    [6, 3, streaming],
  ] as const) {
    await using remote = await startRemoteModelAndTools(chunkDelayMs);
    await using h = await startHarness(sessions, nc, remote.model, remote.executor);
    await measureTurns(h, config, appends, 1); // warm-up
    into.push(...(await measureTurns(h, config, appends, sessionCount)));
  }
  // The floor: an append of a turn's answer alone, back to back and after the
  // machine was idle for as long as a (quick) model takes to answer.
  const appendHot = await timeAppends(streamed, config, 60, 0);
  const appendCold = await timeAppends(streamed, config, 60, 60);
  // The same as unary calls, one HTTP/2 stream each.
  const unaryHot = await timeAppends(rawSessions, config, 60, 0);
  const unaryCold = await timeAppends(rawSessions, config, 60, 60);

  // 3. Wake of a 1,000-event session vs. a fresh one.
  oneShot();
  const wakeBig: number[] = [];
  const wakeSmall: number[] = [];
  // 30 of each, so that p95 is not simply the slowest sample.
  for (let i = 0; i < 30; i++) {
    wakeBig.push(await timeWake(harness, sessions, fake, config, 1_000));
    wakeSmall.push(await timeWake(harness, sessions, fake, config, 2));
  }

  await local[Symbol.asyncDispose]();
  await streamed.close();
  await nc.close();

  const p = (xs: number[], q: number) => percentile(xs, q);
  console.log("\nTime to first model request (StartSession -> request at the Messages API)");
  console.log(`  harness (no container before the model):  p50 ${ms(p(ttft, 50))}  p95 ${ms(p(ttft, 95))}`);
  console.log(
    `  baseline (docker create+start, then call): p50 ${ms(p(baseline, 50))}  p95 ${ms(p(baseline, 95))}   (${rounds} rounds, image ${sandboxImage})`,
  );
  console.log(
    `  reduction: p50 ${pct(p(ttft, 50), p(baseline, 50))}  p95 ${pct(p(ttft, 95), p(baseline, 95))}   (target: >= 90% at p95)`,
  );
  console.log("\nHarness overhead per turn (turn time minus model and tool time; target p50 <= 5 ms)");
  for (const [label, turns] of [
    ["model answers at once", instant],
    ["model streams its answer over ~100 ms", streaming],
  ] as const) {
    const overheads = turns.map((t) => t.overhead);
    const own = turns.map((t) => t.overhead - t.appending);
    console.log(`  ${label} (${turns.length} turns):`);
    console.log(`    overhead: p50 ${ms(p(overheads, 50))}  p95 ${ms(p(overheads, 95))}`);
    console.log(
      `    of which the answer's append (on the append stream, on the critical path): p50 ${ms(
        p(
          turns.map((t) => t.appending),
          50,
        ),
      )}`,
    );
    console.log(`    the rest: p50 ${ms(p(own, 50))}  p95 ${ms(p(own, 95))}`);
  }
  console.log(
    `  baseline, one such append alone: back to back p50 ${ms(p(appendHot, 50))}, after 60 ms idle p50 ${ms(p(appendCold, 50))}`,
  );
  console.log(
    `            as a unary AppendEvents: back to back p50 ${ms(p(unaryHot, 50))}, after 60 ms idle p50 ${ms(p(unaryCold, 50))}`,
  );
  console.log("\nWake -> next model request");
  console.log(
    `  1,000-event session: p50 ${ms(p(wakeBig, 50))}  p95 ${ms(p(wakeBig, 95))}   (${wakeBig.length} wakes; target <= 100 ms)`,
  );
  console.log(`  baseline, 2-event session: p50 ${ms(p(wakeSmall, 50))}  p95 ${ms(p(wakeSmall, 95))}`);
  console.log(`  ratio p50: ${(p(wakeBig, 50) / p(wakeSmall, 50)).toFixed(2)}x`);
}

function pct(value: number, base: number): string {
  return `${(100 * (1 - value / base)).toFixed(1)}% lower`;
}

async function firstRequest(
  harness: Client<typeof HarnessService>,
  fake: Awaited<ReturnType<typeof startFakeAnthropic>>,
  config: ReturnType<typeof create<typeof AgentConfigSchema>>,
): Promise<number> {
  const count = fake.requests.length;
  const arrived = fake.waitForRequests(count + 1);
  const t0 = now();
  await harness.startSession({ config, message: "hello" });
  const requests = await arrived;
  return (requests[count]?.receivedAt ?? Number.NaN) - t0;
}

/** Appends of a turn's answer (message, span, one intent), each after `idleMs` of nothing. */
async function timeAppends(
  sessions: Client<typeof SessionService>,
  config: ReturnType<typeof create<typeof AgentConfigSchema>>,
  n: number,
  idleMs: number,
): Promise<number[]> {
  const { session } = await sessions.createSession({ config });
  const sessionId = session?.sessionId ?? "";
  let last = 1n;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    if (idleMs > 0) await sleep(idleMs);
    const events = answerOf(i);
    const t = now();
    last = (await sessions.appendEvents({ sessionId, expectedLastSeq: last, events })).lastSeq;
    samples.push(now() - t);
  }
  return samples;
}

// A session of `size` events whose log ends with a user message: Wake must call the model.
async function timeWake(
  harness: Client<typeof HarnessService>,
  sessions: Client<typeof SessionService>,
  fake: Awaited<ReturnType<typeof startFakeAnthropic>>,
  config: ReturnType<typeof create<typeof AgentConfigSchema>>,
  size: number,
): Promise<number> {
  const { session } = await sessions.createSession({ config });
  const sessionId = session?.sessionId ?? "";
  const events = historyOf(size - 2);
  events.push(text("and now?"));
  let last = 1n;
  for (let i = 0; i < events.length; i += 100) {
    last = (await sessions.appendEvents({ sessionId, expectedLastSeq: last, events: events.slice(i, i + 100) }))
      .lastSeq;
  }
  const count = fake.requests.length;
  const arrived = fake.waitForRequests(count + 1);
  const t0 = now();
  await harness.wake({ sessionId });
  const requests = await arrived;
  return (requests[count]?.receivedAt ?? Number.NaN) - t0;
}

// Realistic turns: user message, agent message with a tool call, started, result.
function historyOf(n: number): Event[] {
  const events: Event[] = [];
  for (let turn = 0; events.length < n; turn++) {
    const [message, , started] = answerOf(turn);
    events.push(text(`Please do step ${turn}.`), message as Event, started as Event);
    events.push(
      create(EventSchema, {
        id: uuidv7(),
        payload: {
          case: "agentToolResult",
          value: { toolUseId: `toolu_${turn}`, name: "bash", output: `step ${turn} done` },
        },
      }),
    );
  }
  return events.slice(0, n);
}

/** What a turn's answer appends: the message with one tool call, its span, the call's intent. */
function answerOf(turn: number): Event[] {
  const id = `toolu_${turn}`;
  return [
    create(EventSchema, {
      id: uuidv7(),
      payload: {
        case: "agentMessage",
        value: {
          model: "claude-bench",
          content: [
            { block: { case: "text", value: { text: `Doing step ${turn}.` } } },
            { block: { case: "toolUse", value: { id, name: "bash", inputJson: `{"command":"step ${turn}"}` } } },
          ],
        },
      },
    }),
    create(EventSchema, {
      id: uuidv7(),
      payload: {
        case: "spanModelRequest",
        value: { model: "claude-bench", attempts: 1, usage: { inputTokens: 900n, outputTokens: 40n } },
      },
    }),
    create(EventSchema, {
      id: uuidv7(),
      payload: { case: "agentToolUseStarted", value: { toolUseId: id, name: "bash", inputJson: "{}" } },
    }),
  ];
}

function text(value: string): Event {
  return create(EventSchema, { id: uuidv7(), payload: { case: "userMessage", value: { text: value } } });
}

await main();
