import { randomUUID } from "node:crypto";
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
import { type ContainerWatch, watchContainers } from "./container-watch.js";
import { type RecordingServer, type SecretApi, startRecordingServer, startSecretApi } from "./secret-api.js";

/**
 * `search` looks for a string through everything a sandboxed tool can read: every
 * process's environment and command line, and every file outside /proc, /sys and
 * /dev. The string arrives on stdin in two halves (`a` + `b`), so it is never
 * whole in the call's input, its command line or any file: only an occurrence
 * that was there before the search can match. `-z` makes NUL the record
 * separator: an environ or cmdline file is NUL-separated, and busybox grep
 * stops reading a newline-separated line at its first NUL.
 */
const catalog = (marker: string) => `
defaults:
  image: ${process.env.REINS_TEST_IMAGE ?? "reins/sandbox-tiny"}
  # Reading every file of the image is slow on a busy machine.
  timeout: 150s
  memory: 64m
  pids: 64
  workspace: none
pool:
  size: 1
tools:
  - name: search
    description: Search the sandbox for a string given in two halves.
    env: { REINS_TEST_MARKER: "${marker}" }
    input_schema:
      type: object
      properties: { a: { type: string }, b: { type: string } }
      required: [a, b]
    command:
      argv:
        - sh
        - -c
        - >-
          set --; for d in /*; do case $d in /proc|/sys|/dev) ;; *) set -- "$@" "$d" ;; esac; done;
          echo "searched: env, /proc/*/environ, /proc/*/cmdline, $*";
          grep -rlsazF -f /dev/stdin /proc/[0-9]*/environ /proc/[0-9]*/cmdline "$@" | sed 's/^/found in /';
          echo "search done"
      stdin: "{{a}}{{b}}"
`;

const hostTools = (api: string) => `
tools:
  - name: forecast
    description: The forecast for a city, from the credentialed API.
    input_schema:
      type: object
      properties: { city: { type: string } }
      required: [city]
      additionalProperties: false
    url: "${api}/forecast/{city}"
    allowed_origins: ["${api}"]
    secret: { env: REINS_TEST_API_KEY, header: x-api-key }
  - name: fetch
    description: GET a URL of the credentialed API.
    input_schema:
      type: object
      properties: { url: { type: string } }
      required: [url]
    url: "{+url}"
    allowed_origins: ["${api}"]
    secret: { env: REINS_TEST_API_KEY, header: x-api-key }
  - name: fetch_again
    description: GET a URL of the credentialed API; safe to repeat.
    idempotent: true
    input_schema:
      type: object
      properties: { url: { type: string } }
      required: [url]
    url: "{+url}"
    allowed_origins: ["${api}"]
    secret: { env: REINS_TEST_API_KEY, header: x-api-key }
`;

export interface CredentialedStack extends AsyncDisposable {
  readonly canary: string;
  /** A value the `search` tool's environment holds, to prove the search finds what is there. */
  readonly marker: string;
  /** What the credentialed API answers with. */
  readonly data: string;
  readonly api: SecretApi;
  /** An origin no host tool may call. */
  readonly outsider: RecordingServer;
  readonly fake: FakeAnthropic;
  readonly nats: NatsServer;
  readonly containers: ContainerWatch;
  readonly sessions: Client<typeof SessionService>;
  /** Every daemon started so far (harnesses included, dead or alive). */
  readonly daemons: Daemon[];
  harness(): Daemon;
  client(): Client<typeof HarnessService>;
  startHarness(env?: Record<string, string>): Promise<Daemon>;
  settled(sessionId: string, afterSeq?: bigint): Promise<Event[]>;
}

export async function startCredentialedStack(script: FakeScript): Promise<CredentialedStack> {
  const owned: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const step of owned.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const canary = `reins-canary-${randomUUID()}`;
    const marker = `reins-marker-${randomUUID()}`;
    const data = `forecast-${randomUUID()}`;
    const executorId = `credentialed-${randomUUID()}`;
    const dir = await mkdtemp(path.join(tmpdir(), "reins-credentialed-"));
    owned.push(() => rm(dir, { recursive: true, force: true }));
    const outsider = await startRecordingServer((_, res) => res.writeHead(200).end("collected"));
    owned.push(async () => outsider[Symbol.asyncDispose]());
    const api = await startSecretApi(canary, data, outsider.origin);
    owned.push(async () => api[Symbol.asyncDispose]());
    await writeFile(path.join(dir, "catalog.yaml"), catalog(marker));
    await writeFile(path.join(dir, "host-tools.yaml"), hostTools(api.origin));

    const nats = await startNatsServer();
    owned.push(() => nats.stop());
    const fake = await startFakeAnthropic({ script });
    owned.push(() => fake.close());
    const containers = await watchContainers(`reins.executor=${executorId}`);
    owned.push(() => containers.stop());
    const daemons: Daemon[] = [];
    const start = async (app: string, env: Record<string, string>) => {
      const daemon = await startDaemon({ app, env });
      daemons.push(daemon);
      owned.push(() => daemon.kill("SIGTERM"));
      return daemon;
    };
    const token = "credentialed-e2e-executor-token";
    const session = await start("session", { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url });
    const executor = await start("executor", {
      REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
      REINS_EXECUTOR_TOKEN: token,
      REINS_EXECUTOR_ID: executorId,
      REINS_TOOLS_CONFIG: path.join(dir, "catalog.yaml"),
      DOCKER_HOST: resolveDockerHost(),
    });
    const harnesses: Daemon[] = [];
    const startHarness = async (env: Record<string, string> = {}) => {
      const daemon = await start("harness", {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_SESSION_URL: session.url,
        REINS_EXECUTOR_URL: executor.url,
        REINS_EXECUTOR_TOKEN: token,
        REINS_NATS_URL: nats.url,
        ANTHROPIC_API_KEY: "credentialed-e2e-model-key",
        ANTHROPIC_BASE_URL: fake.url,
        REINS_MODEL_BACKOFF_MS: "10",
        REINS_WAKE_MODE: "direct",
        REINS_HOST_TOOLS_CONFIG: path.join(dir, "host-tools.yaml"),
        REINS_TEST_API_KEY: canary,
        ...env,
      });
      harnesses.push(daemon);
      return daemon;
    };
    await startHarness();
    const last = () => harnesses.at(-1) as Daemon;
    const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: session.url }));
    return {
      canary,
      marker,
      data,
      api,
      outsider,
      fake,
      nats,
      containers,
      sessions,
      daemons,
      harness: last,
      client: () => createClient(HarnessService, createGrpcTransport({ baseUrl: last().url })),
      startHarness,
      async settled(sessionId, afterSeq = 0n) {
        const leave = new AbortController();
        const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(200_000)]);
        try {
          for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal })) {
            if (event?.payload.case !== "sessionStatus") continue;
            const { state } = event.payload.value;
            if (state === RunState.IDLE || state === RunState.TERMINATED) break;
          }
        } finally {
          leave.abort();
        }
        return (await sessions.getEvents({ sessionId })).events;
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
