import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Client } from "@connectrpc/connect";
import type { Event, HarnessService, SessionService } from "@reins/proto";
import { type Daemon, type FakeAnthropic, type FakeScript, type NatsServer, testImage } from "@reins/testkit";
import { type ContainerWatch, watchContainers } from "./container-watch.js";
import { ownedFixture, ownedTempDir, startDaemonStack } from "./daemon-stack.js";
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
  image: ${testImage()}
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
  readonly daemons: readonly Daemon[];
  harness(): Daemon;
  client(): Client<typeof HarnessService>;
  startHarness(env?: Record<string, string>): Promise<Daemon>;
  settled(sessionId: string, afterSeq?: bigint): Promise<Event[]>;
}

export function startCredentialedStack(script: FakeScript): Promise<CredentialedStack> {
  return ownedFixture(async (own) => {
    const canary = `reins-canary-${randomUUID()}`;
    const marker = `reins-marker-${randomUUID()}`;
    const data = `forecast-${randomUUID()}`;
    const executorId = `credentialed-${randomUUID()}`;
    const dir = await ownedTempDir(own, "reins-credentialed-");
    const outsider = own(await startRecordingServer((_, res) => res.writeHead(200).end("collected")));
    const api = own(await startSecretApi(canary, data, outsider.origin));
    await writeFile(path.join(dir, "host-tools.yaml"), hostTools(api.origin));
    const containers = own(await watchContainers(`reins.executor=${executorId}`));

    const stack = own(
      await startDaemonStack({
        script,
        catalog: catalog(marker),
        executorToken: "credentialed-e2e-executor-token",
        executorEnv: { REINS_EXECUTOR_ID: executorId },
        harnessEnv: {
          REINS_MODEL_BACKOFF_MS: "10",
          REINS_WAKE_MODE: "direct",
          REINS_HOST_TOOLS_CONFIG: path.join(dir, "host-tools.yaml"),
          REINS_TEST_API_KEY: canary,
        },
      }),
    );
    return {
      canary,
      marker,
      data,
      api,
      outsider,
      fake: stack.fake as FakeAnthropic,
      nats: stack.nats as NatsServer,
      containers,
      sessions: stack.sessions,
      daemons: stack.daemons,
      harness: stack.harness,
      client: () => stack.harnessClient(),
      startHarness: stack.startHarness,
      // Reading every file of the image is slow on a busy machine.
      settled: (sessionId, afterSeq = 0n) => stack.settled(sessionId, afterSeq, 200_000),
    };
  });
}
