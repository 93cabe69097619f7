import type { Client } from "@connectrpc/connect";
import type { Event, HarnessService, SessionService } from "@reins/proto";
import {
  type Daemon,
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type FakeScript,
  type NatsServer,
  testImage,
} from "@reins/testkit";
import { ownedFixture, shCatalog, startDaemonStack } from "./daemon-stack.js";

// `sh` runs a command in a fresh busybox container; `wait` is the same tool declared
// idempotent, for the re-run-on-recovery path.
const catalog = shCatalog(testImage(), {
  pool: 1,
  extraTools: `
  - name: wait
    description: Run a command that is safe to repeat.
    idempotent: true
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
`,
});

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

/**
 * `harnessEnv` is given to every harness daemon the stack starts (e.g. the wake
 * queue's ack wait); `fakeOptions` to the fake Messages API (e.g. its context window).
 */
export function startHarnessStack(
  script: FakeScript,
  harnessEnv: Record<string, string> = {},
  fakeOptions: Omit<FakeAnthropicOptions, "script"> = {},
): Promise<HarnessStack> {
  return ownedFixture(async (own) => {
    const stack = own(
      await startDaemonStack({
        script,
        fakeOptions,
        catalog,
        harnessEnv: {
          REINS_MODEL_BACKOFF_MS: "10",
          // Each process runs what it records unless a test puts the replicas on the wake queue.
          REINS_WAKE_MODE: "direct",
          ...harnessEnv,
        },
      }),
    );
    return {
      nats: stack.nats as NatsServer,
      session: stack.session,
      executor: stack.executor(),
      fake: stack.fake as FakeAnthropic,
      sessions: stack.sessions,
      harness: stack.harness,
      client: () => stack.harnessClient(),
      startHarness: stack.startHarness,
      events: stack.events,
      settled: stack.settled,
    };
  });
}
