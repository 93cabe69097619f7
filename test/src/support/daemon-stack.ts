import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, HarnessService, RunState, SessionService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import {
  type Daemon,
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type FakeScript,
  freePort,
  type NatsServer,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
} from "@reins/testkit";

type Env = Record<string, string | undefined>;

export interface DaemonStackOptions {
  /** The fake model's script; none: the harness points at a closed port, so any model call fails fast. */
  readonly script?: FakeScript;
  /** The fake model's other options (context window, summaries, ...), with `script`. */
  readonly fakeOptions?: Omit<FakeAnthropicOptions, "script">;
  /** NATS the caller owns (one URL, or a comma-separated cluster); default: a fresh nats-server. */
  readonly natsUrl?: string;
  /** What harness daemons connect to (live text deltas); default: the session's NATS. */
  readonly harnessNatsUrl?: string;
  /** The executor's tool catalog (YAML); default: the daemon's own, apps/executor/tools.yaml. */
  readonly catalog?: string;
  /** Bearer token the executor accepts and every harness sends. */
  readonly executorToken?: string;
  /** Listen on a port fixed for the stack's life, so a restarted executor is where harnesses expect it. */
  readonly fixedExecutorPort?: boolean;
  /** On top of the defaults; an undefined value removes a default. */
  readonly sessionEnv?: Env;
  readonly executorEnv?: Env;
  readonly harnessEnv?: Env;
  /** Harness daemons to start with the stack (default 1); `startHarness` adds more. */
  readonly harnesses?: number;
  /** How long each daemon may take to log `listening` (default: startDaemon's). */
  readonly startTimeoutMs?: number;
}

/** Registers what a fixture started, to be stopped on dispose (a resource, or how to stop it); returns it. */
export type Own = <T extends AsyncDisposable | (() => Promise<unknown>)>(resource: T) => T;

/**
 * Builds a fixture whose every resource is registered with `own`: disposing the
 * fixture stops them in reverse order, and so does a failure of `build` (a later
 * start failing), before it is rethrown. A step that fails does not keep the
 * others from running.
 */
export async function ownedFixture<T extends object>(build: (own: Own) => Promise<T>): Promise<T & AsyncDisposable> {
  const stops: Array<() => Promise<unknown>> = [];
  const own: Own = (resource) => {
    stops.push(typeof resource === "function" ? resource : async () => resource[Symbol.asyncDispose]());
    return resource;
  };
  const dispose = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    return Object.assign(await build(own), { [Symbol.asyncDispose]: dispose });
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** A temp dir, removed on dispose. */
export async function ownedTempDir(own: Own, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  own(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The three daemons as real processes from their built dist/: nats-server (or
 * the caller's), the session and executor daemons (the executor on the shared
 * Docker engine), harness daemons that a test can kill and start again, and the
 * fake Messages API in the test process. The fixtures of the e2e suites are
 * this stack with their own catalog, environment and extras.
 */
export interface DaemonStack extends AsyncDisposable {
  /** The nats-server the stack started; undefined when the caller gave `natsUrl`. */
  readonly nats: NatsServer | undefined;
  readonly fake: FakeAnthropic | undefined;
  readonly session: Daemon;
  readonly sessions: Client<typeof SessionService>;
  readonly executorToken: string;
  /** Every daemon started so far, harnesses included, dead or alive (their output stays readable). */
  readonly daemons: readonly Daemon[];
  /** The executor started last. */
  executor(): Daemon;
  /** Stops the executor (SIGKILL by default) and starts a new one; needs `fixedExecutorPort`. */
  restartExecutor(signal?: NodeJS.Signals): Promise<Daemon>;
  /** Every executor started, in order. */
  executors(): Daemon[];
  /** Starts another harness daemon with extra environment. */
  startHarness(env?: Env): Promise<Daemon>;
  /** The harness started last. */
  harness(): Daemon;
  /** Every harness started, dead or alive. */
  harnesses(): Daemon[];
  /** Harness daemons that have not exited. */
  liveHarnesses(): Daemon[];
  /** A client of `url` presenting `token` (none: no authorization header). */
  client<S extends DescService>(service: S, url: string, token?: string): Client<S>;
  /** A client of `daemon` (default: the harness started last). */
  harnessClient(daemon?: Daemon): Client<typeof HarnessService>;
  /** The whole log, read a page at a time. */
  events(sessionId: string): Promise<Event[]>;
  /** The log once the session goes idle or terminated after `afterSeq`. */
  settled(sessionId: string, afterSeq?: bigint, timeoutMs?: number): Promise<Event[]>;
}

export function startDaemonStack(options: DaemonStackOptions = {}): Promise<DaemonStack> {
  return ownedFixture(async (own) => {
    const dir = await ownedTempDir(own, "reins-stack-");
    const daemons: Daemon[] = [];
    const start = async (app: string, env: Env) => {
      const daemon = await startDaemon({
        app,
        env,
        ...(options.startTimeoutMs ? { timeoutMs: options.startTimeoutMs } : {}),
      });
      daemons.push(daemon);
      own(() => daemon.kill("SIGTERM"));
      return daemon;
    };

    const nats = options.natsUrl === undefined ? own(await startNatsServer()) : undefined;
    const natsUrl = options.natsUrl ?? (nats as NatsServer).url;
    const fake = options.script
      ? own(await startFakeAnthropic({ ...options.fakeOptions, script: options.script }))
      : undefined;
    const executorToken = options.executorToken ?? "stack-executor-token";
    const toolsFile = path.join(dir, "tools.yaml");
    if (options.catalog !== undefined) await writeFile(toolsFile, options.catalog);
    const executorPort = options.fixedExecutorPort ? await freePort() : 0;
    const executors: Daemon[] = [];
    const startExecutor = async () => {
      const daemon = await start("executor", {
        REINS_EXECUTOR_LISTEN: `127.0.0.1:${executorPort}`,
        REINS_EXECUTOR_TOKEN: executorToken,
        ...(options.catalog !== undefined ? { REINS_TOOLS_CONFIG: toolsFile } : {}),
        DOCKER_HOST: resolveDockerHost(),
        ...options.executorEnv,
      });
      executors.push(daemon);
      return daemon;
    };
    // Side by side; allSettled, so that neither can outlive a failure of the other.
    const [sessionStart, executorStart] = await Promise.allSettled([
      start("session", { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: natsUrl, ...options.sessionEnv }),
      startExecutor(),
    ]);
    if (sessionStart.status === "rejected") throw sessionStart.reason;
    if (executorStart.status === "rejected") throw executorStart.reason;
    const session = sessionStart.value;
    const executor = () => executors.at(-1) as Daemon;

    const client = <S extends DescService>(service: S, url: string, token?: string) =>
      createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [createBearerInterceptor(token)] }));
    const sessions = client(SessionService, session.url);

    const harnesses: Daemon[] = [];
    const alive = new Set<Daemon>();
    const startHarness = async (env: Env = {}) => {
      const daemon = await start("harness", {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_SESSION_URL: session.url,
        REINS_EXECUTOR_URL: executor().url,
        REINS_EXECUTOR_TOKEN: executorToken,
        REINS_NATS_URL: options.harnessNatsUrl ?? natsUrl,
        ANTHROPIC_API_KEY: "stack-model-key",
        ANTHROPIC_BASE_URL: fake?.url ?? "http://127.0.0.1:9",
        ...options.harnessEnv,
        ...env,
      });
      harnesses.push(daemon);
      alive.add(daemon);
      void daemon.exited.then(() => alive.delete(daemon));
      return daemon;
    };
    for (let i = 0; i < (options.harnesses ?? 1); i++) await startHarness();
    const harness = () => harnesses.at(-1) as Daemon;

    // GetEvents answers a page at a time: read until a page comes back short.
    const events = async (sessionId: string) => {
      const all: Event[] = [];
      for (;;) {
        const page = (await sessions.getEvents({ sessionId, afterSeq: all.at(-1)?.seq ?? 0n, limit: 1000 })).events;
        all.push(...page);
        if (page.length < 1000) return all;
      }
    };
    return {
      nats,
      fake,
      session,
      sessions,
      executorToken,
      daemons,
      executor,
      async restartExecutor(signal = "SIGKILL") {
        if (!options.fixedExecutorPort) throw new Error("restartExecutor needs fixedExecutorPort");
        await executor().kill(signal);
        return startExecutor();
      },
      executors: () => [...executors],
      startHarness,
      harness,
      harnesses: () => [...harnesses],
      liveHarnesses: () => harnesses.filter((d) => alive.has(d)),
      client,
      harnessClient: (daemon = harness()) => client(HarnessService, daemon.url),
      events,
      async settled(sessionId, afterSeq = 0n, timeoutMs = 30_000) {
        const leave = new AbortController();
        const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(timeoutMs)]);
        try {
          for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal })) {
            if (event?.payload.case !== "sessionStatus") continue;
            const { state } = event.payload.value;
            if (state === RunState.IDLE || state === RunState.TERMINATED) break;
          }
        } finally {
          leave.abort();
        }
        return events(sessionId);
      },
    } satisfies Omit<DaemonStack, typeof Symbol.asyncDispose>;
  });
}

/** A catalog whose `sh` tool runs a shell command in `image`, with the given pool size. */
export function shCatalog(image: string, options: { pool: number; timeout?: string; extraTools?: string }): string {
  return `
defaults:
  image: ${image}
  timeout: ${options.timeout ?? "60s"}
  memory: 64m
  pids: 64
  workspace: none
pool:
  size: ${options.pool}
tools:
  - name: sh
    description: Run a shell command.
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
${options.extraTools ?? ""}`;
}
