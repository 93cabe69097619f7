import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, HarnessService, RunState, SessionService } from "@reins/proto";
import { bindService, startServer } from "@reins/service-kit";
import { createSessionServiceImpl, createSessionStore } from "@reins/session-store";
import {
  type FakeAnthropic,
  type FakeScript,
  type NatsServer,
  startFakeAnthropic,
  startNatsServer,
} from "@reins/testkit";
import { connect, type NatsConnection } from "nats";
import type { HarnessMetrics } from "../harness-metrics.js";
import type { AppendHook, SessionClient } from "../log/index.js";
import { withStreamedAppends } from "../log/index.js";
import { createReschedulePolicy, type ReschedulePolicy } from "../loop/index.js";
import { createAnthropicAdapter, createNatsDeltaBus, type DeltaBus } from "../model/index.js";
import { createHarnessServiceImpl } from "../service/index.js";
import { createExecutorPool, type ExecutorPool } from "../tools/index.js";
import { createSessionRunner, type SessionRunner } from "../wake/index.js";
import { type ScriptedExecutor, startScriptedExecutor } from "./scripted-executor.js";

/**
 * Everything a harness needs, in this process but over real sockets: a real
 * nats-server, the real session store and service, the fake Messages API
 * through the real SDK, and a scripted executor.
 */
export interface LoopEnv extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly nc: NatsConnection;
  readonly sessions: SessionClient;
  readonly harness: Client<typeof HarnessService>;
  readonly fake: FakeAnthropic;
  readonly executor: ScriptedExecutor;
  readonly deltas: DeltaBus;
  /** The runner behind `harness`. */
  readonly runner: SessionRunner;
  /** A second, independent runner: another replica after a crash. */
  newRunner(onAppended?: AppendHook): SessionRunner;
  /** All events of a session. */
  events(sessionId: string): Promise<Event[]>;
  /** Resolves with the log once the session is idle or terminated after `afterSeq`. */
  settled(sessionId: string, afterSeq?: bigint): Promise<Event[]>;
}

export interface LoopEnvOptions {
  readonly onAppended?: AppendHook;
  /** Default: a first retry after 50 ms, three in all, so that a test sees the whole series. */
  readonly reschedule?: ReschedulePolicy;
  /** What the harness routes tool calls through, around the scripted executor's pool (host tools, MCP servers). */
  readonly wrapExecutors?: (pool: ExecutorPool) => ExecutorPool;
  /** Where the runner reports model requests, tool calls and runs. */
  readonly metrics?: HarnessMetrics;
}

export async function startLoopEnv(script: FakeScript, options: LoopEnvOptions = {}): Promise<LoopEnv> {
  const stack = createCleanup();
  try {
    const nats = stack.use(await startNatsServer());
    const store = stack.use(await createSessionStore({ servers: nats.url, requestTimeoutMs: 2_000 }));
    const sessionServer = stack.use(
      await startServer({ services: [bindService(SessionService, createSessionServiceImpl(store))] }),
    );
    // Appends on one stream, as the harness daemon sends them.
    const sessions = withStreamedAppends(
      createClient(SessionService, createGrpcTransport({ baseUrl: sessionServer.url })),
    );
    stack.defer(() => sessions.close());
    const fake = stack.use(await startFakeAnthropic({ script }));
    const executor = stack.use(await startScriptedExecutor());
    const nc = await connect({ servers: nats.url });
    stack.defer(() => nc.close());
    const deltas = createNatsDeltaBus(nc);
    const model = createAnthropicAdapter({ apiKey: "test-key", baseURL: fake.url, minBackoffMs: 1, maxBackoffMs: 5 });
    const pool = createExecutorPool({ defaultAddress: executor.url });
    const executors = options.wrapExecutors?.(pool) ?? pool;
    const reschedule = options.reschedule ?? createReschedulePolicy({ attempts: 3, firstDelayMs: 50, jitter: 0 });
    const newRunner = (onAppended?: AppendHook) => {
      const runner = createSessionRunner({
        sessions,
        model,
        executors,
        deltas,
        onAppended,
        reschedule,
        ...(options.metrics ? { metrics: options.metrics } : {}),
      });
      stack.defer(() => runner.close());
      return runner;
    };
    const runner = newRunner(options.onAppended);
    const harnessServer = stack.use(
      await startServer({
        services: [bindService(HarnessService, createHarnessServiceImpl({ sessions, executors, runner, deltas }))],
      }),
    );
    const harness = createClient(HarnessService, createGrpcTransport({ baseUrl: harnessServer.url }));

    const events = async (sessionId: string) => {
      const res = await sessions.getEvents({ sessionId, limit: 1000 });
      return res.events;
    };
    const settled = async (sessionId: string, afterSeq = 0n) => {
      const leave = new AbortController();
      const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(20_000)]);
      try {
        for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal })) {
          if (event?.payload.case !== "sessionStatus") continue;
          const state = event.payload.value.state;
          if (state === RunState.IDLE || state === RunState.TERMINATED) break;
        }
      } finally {
        leave.abort();
      }
      return events(sessionId);
    };
    return {
      nats,
      nc,
      sessions,
      harness,
      fake,
      executor,
      deltas,
      runner,
      newRunner,
      events,
      settled,
      [Symbol.asyncDispose]: () => stack.disposeAsync(),
    };
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}

// Disposes in reverse order of acquisition, like AsyncDisposableStack (not in Node 20).
function createCleanup() {
  const steps: Array<() => unknown> = [];
  return {
    use<T extends AsyncDisposable>(resource: T): T {
      steps.push(() => resource[Symbol.asyncDispose]());
      return resource;
    },
    defer(step: () => unknown) {
      steps.push(step);
    },
    async disposeAsync() {
      for (const step of steps.splice(0).reverse()) await step();
    },
  };
}
