import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, HarnessService, RunState, SessionService } from "@reins/proto";
import {
  type Daemon,
  type FakeAnthropic,
  type FakeScript,
  type NatsServer,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
} from "@reins/testkit";

/** The tiny sandbox image (busybox): containers start fast. */
export const tinyImage = "reins/sandbox-tiny";

// `sh` runs a command in a fresh busybox container; `wait` is the same tool declared
// idempotent, for the re-run-on-recovery path.
const catalog = (image: string) => `
defaults:
  image: ${image}
  timeout: 60s
  memory: 64m
  pids: 64
  workspace: none
pool:
  size: 1
tools:
  - name: sh
    description: Run a shell command.
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
  - name: wait
    description: Run a command that is safe to repeat.
    idempotent: true
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
`;

/**
 * The whole stack as real processes: nats-server, the session and executor
 * daemons (the executor on the shared Docker engine), and harness daemons that a
 * test can SIGKILL and start again, all talking to the fake Messages API that
 * runs in the test process.
 */
export interface HarnessStack extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly session: Daemon;
  readonly executor: Daemon;
  readonly fake: FakeAnthropic;
  readonly sessions: Client<typeof SessionService>;
  /** The harness started last. */
  harness(): Daemon;
  /** A client of the harness started last. */
  client(): Client<typeof HarnessService>;
  /** Starts another harness daemon (e.g. after one died), with extra environment. */
  startHarness(env?: Record<string, string>): Promise<Daemon>;
  events(sessionId: string): Promise<Event[]>;
  /** The log once the session is idle or terminated after `afterSeq`. */
  settled(sessionId: string, afterSeq?: bigint, timeoutMs?: number): Promise<Event[]>;
}

/** `harnessEnv` is given to every harness daemon the stack starts (e.g. the wake queue's ack wait). */
export async function startHarnessStack(
  script: FakeScript,
  harnessEnv: Record<string, string> = {},
): Promise<HarnessStack> {
  const owned: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const step of owned.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const token = "harness-e2e-executor-token";
    const dir = await mkdtemp(path.join(tmpdir(), "reins-harness-e2e-"));
    owned.push(() => rm(dir, { recursive: true, force: true }));
    const toolsFile = path.join(dir, "tools.yaml");
    await writeFile(toolsFile, catalog(process.env.REINS_TEST_IMAGE ?? tinyImage));

    const nats = await startNatsServer();
    owned.push(() => nats.stop());
    const fake = await startFakeAnthropic({ script });
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

    const harnesses: Daemon[] = [];
    const startHarness = async (env: Record<string, string> = {}) => {
      const daemon = await startDaemon({
        app: "harness",
        env: {
          REINS_HARNESS_LISTEN: "127.0.0.1:0",
          REINS_SESSION_URL: session.url,
          REINS_EXECUTOR_URL: executor.url,
          REINS_EXECUTOR_TOKEN: token,
          REINS_NATS_URL: nats.url,
          ANTHROPIC_API_KEY: "e2e-test-key",
          ANTHROPIC_BASE_URL: fake.url,
          REINS_MODEL_BACKOFF_MS: "10",
          // Each process runs what it records unless a test puts the replicas on the wake queue.
          REINS_WAKE_MODE: "direct",
          ...harnessEnv,
          ...env,
        },
      });
      harnesses.push(daemon);
      owned.push(() => daemon.kill("SIGTERM"));
      return daemon;
    };
    await startHarness();
    const last = () => harnesses.at(-1) as Daemon;

    const events = async (sessionId: string) => (await sessions.getEvents({ sessionId })).events;
    return {
      nats,
      session,
      executor,
      fake,
      sessions,
      harness: last,
      client: () => createClient(HarnessService, createGrpcTransport({ baseUrl: last().url })),
      startHarness,
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
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
