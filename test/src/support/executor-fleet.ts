import { writeFile } from "node:fs/promises";
import path from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, ExecutorRegistryService, HarnessService, RunState, SessionService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import {
  connectDocker,
  type Daemon,
  dockerCleanup,
  type FakeAnthropic,
  type FakeScript,
  type NatsServer,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
  testImage,
} from "@reins/testkit";
import { ownedFixture, ownedTempDir } from "./daemon-stack.js";

type Env = Record<string, string | undefined>;

export interface FleetExecutorSpec {
  /** Its registry id (REINS_EXECUTOR_ID), also on its containers as `reins.executor=<id>`. */
  readonly id: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ExecutorFleetOptions {
  readonly executors: readonly FleetExecutorSpec[];
  readonly script: FakeScript;
  /** Calls each executor runs at once (REINS_EXECUTOR_MAX_CONCURRENT); default 4. */
  readonly capacity?: number;
  /** The registry's TTL (REINS_EXECUTOR_TTL_MS); default 1500. */
  readonly ttlMs?: number;
  readonly harnessEnv?: Env;
}

export interface FleetExecutor {
  readonly id: string;
  readonly daemon: Daemon;
  readonly incarnation: string;
}

/**
 * nats-server, the session daemon with its executor registry, executor daemons
 * on the shared Docker engine with distinct ids that register themselves there
 * (REINS_EXECUTOR_REGISTRY_URL, their load with every heartbeat), and harnesses in registry
 * placement mode, on the fake Messages API. Each executor's `sh` and `ws` (in
 * the session's workspace) tools see `SANDBOX_HOST=<its id>`, so a tool result
 * tells which host ran it.
 */
export interface ExecutorFleet extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly fake: FakeAnthropic;
  readonly session: Daemon;
  readonly sessions: Client<typeof SessionService>;
  readonly registry: Client<typeof ExecutorRegistryService>;
  /** The bearer token every executor of the fleet accepts. */
  readonly executorToken: string;
  /** The executor of this id (the latest started under it). */
  executor(id: string): FleetExecutor;
  /** Stops an executor (SIGKILL by default): with no more heartbeats, the registry drops it after the TTL. */
  kill(id: string, signal?: NodeJS.Signals): Promise<void>;
  startHarness(env?: Env): Promise<Daemon>;
  /** Every harness started, dead or alive. */
  harnesses(): Daemon[];
  harnessClient(daemon?: Daemon): Client<typeof HarnessService>;
  events(sessionId: string): Promise<Event[]>;
  /** The log once the session goes idle or terminated after `afterSeq`. */
  settled(sessionId: string, afterSeq?: bigint, timeoutMs?: number): Promise<Event[]>;
  /** The first event after `afterSeq` for which `match` holds, watched live. */
  waitFor(sessionId: string, match: (event: Event) => boolean, timeoutMs?: number): Promise<Event>;
}

const token = "fleet-executor-token";

/** The catalog of one fleet member: `sh` runs a command with SANDBOX_HOST set to the executor's id. */
function fleetCatalog(id: string): string {
  return `
defaults:
  image: ${testImage()}
  timeout: 60s
  memory: 64m
  pids: 64
  workspace: none
  env: { SANDBOX_HOST: ${id} }
pool:
  size: 0
tools:
  - name: sh
    description: Run a shell command.
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
  - name: ws
    description: Run a shell command in the session's workspace.
    workspace: session
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
`;
}

export function startExecutorFleet(options: ExecutorFleetOptions): Promise<ExecutorFleet> {
  return ownedFixture(async (own) => {
    const dir = await ownedTempDir(own, "reins-fleet-");
    const docker = connectDocker();
    const capacity = options.capacity ?? 4;
    const started: Daemon[] = [];
    const start = async (app: string, env: Env) => {
      const daemon = await startDaemon({ app, env });
      started.push(daemon);
      own(() => daemon.kill("SIGTERM"));
      return daemon;
    };
    const nats = own(await startNatsServer());
    const fake = own(await startFakeAnthropic({ script: options.script }));
    const session = await start("session", {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      REINS_EXECUTOR_TTL_MS: String(options.ttlMs ?? 1500),
      REINS_EXECUTOR_HEARTBEAT_INTERVAL_MS: "200",
    });
    const client = <S extends Parameters<typeof createClient>[0]>(service: S, url: string, bearer?: string) =>
      createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [createBearerInterceptor(bearer)] }));
    const sessions = client(SessionService, session.url);
    const registry = client(ExecutorRegistryService, session.url);

    const members = new Map<string, FleetExecutor>();
    const startMember = async (spec: FleetExecutorSpec) => {
      own(dockerCleanup(docker, `reins.executor=${spec.id}`));
      const catalog = path.join(dir, `${spec.id}.yaml`);
      await writeFile(catalog, fleetCatalog(spec.id));
      const daemon = await start("executor", {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: token,
        REINS_EXECUTOR_ID: spec.id,
        REINS_EXECUTOR_MAX_CONCURRENT: String(capacity),
        REINS_EXECUTOR_REGISTRY_URL: session.url,
        REINS_EXECUTOR_LABELS: Object.entries(spec.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        REINS_TOOLS_CONFIG: catalog,
        // Workspaces of one host are its own, as on separate machines.
        REINS_EXECUTOR_WORKSPACE_DIR: path.join(dir, `${spec.id}-workspaces`),
        DOCKER_HOST: resolveDockerHost(),
      });
      // Registered before it logs `listening`: its entry is there to read.
      const { executor } = await registry.getExecutor({ id: spec.id }).catch((err: unknown) => {
        throw new Error(
          `executor ${spec.id} is not in the registry after its start: ${daemon.output.slice(-5).join(" | ")}`,
          {
            cause: err,
          },
        );
      });
      const member = { id: spec.id, daemon, incarnation: executor?.incarnation ?? "" };
      members.set(spec.id, member);
      return member;
    };
    await Promise.all(options.executors.map(startMember));

    const harnesses: Daemon[] = [];
    const startHarness = async (env: Env = {}) => {
      const daemon = await start("harness", {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_SESSION_URL: session.url,
        REINS_HARNESS_PLACEMENT: "registry",
        REINS_EXECUTOR_TOKEN: token,
        REINS_NATS_URL: nats.url,
        REINS_WAKE_MODE: "direct",
        ANTHROPIC_API_KEY: "fleet-model-key",
        ANTHROPIC_BASE_URL: fake.url,
        ...options.harnessEnv,
        ...env,
      });
      harnesses.push(daemon);
      return daemon;
    };
    await startHarness();

    const events = async (sessionId: string) => {
      const all: Event[] = [];
      for (;;) {
        const page = (await sessions.getEvents({ sessionId, afterSeq: all.at(-1)?.seq ?? 0n, limit: 1000 })).events;
        all.push(...page);
        if (page.length < 1000) return all;
      }
    };
    const waitFor = async (sessionId: string, match: (event: Event) => boolean, timeoutMs = 60_000) => {
      const leave = new AbortController();
      const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(timeoutMs)]);
      try {
        for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n }, { signal })) {
          if (event && match(event)) return event;
        }
      } finally {
        leave.abort();
      }
      throw new Error(`session ${sessionId}: the stream ended before the event awaited`);
    };

    return {
      nats,
      fake,
      session,
      sessions,
      registry,
      executorToken: token,
      executor(id) {
        const member = members.get(id);
        if (!member) throw new Error(`no executor ${id} in the fleet`);
        return member;
      },
      async kill(id, signal = "SIGKILL") {
        const member = members.get(id);
        if (!member) throw new Error(`no executor ${id} in the fleet`);
        await member.daemon.kill(signal);
      },
      startHarness,
      harnesses: () => [...harnesses],
      harnessClient: (daemon = harnesses.at(-1) as Daemon) => client(HarnessService, daemon.url),
      events,
      waitFor,
      async settled(sessionId, afterSeq = 0n, timeoutMs = 60_000) {
        await waitFor(
          sessionId,
          (e) =>
            e.seq > afterSeq &&
            e.payload.case === "sessionStatus" &&
            (e.payload.value.state === RunState.IDLE || e.payload.value.state === RunState.TERMINATED),
          timeoutMs,
        );
        return events(sessionId);
      },
    } satisfies Omit<ExecutorFleet, typeof Symbol.asyncDispose>;
  });
}
