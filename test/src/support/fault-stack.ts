import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { type Event, type HarnessService, RunState, type SessionService } from "@reins/proto";
import { type Daemon, type FakeAnthropic, type FakeScript, testImage } from "@reins/testkit";
import { ownedFixture, shCatalog, startDaemonStack } from "./daemon-stack.js";

const catalog = shCatalog(testImage(), { pool: 2 });

export interface Finished {
  readonly events: Event[];
  /** Wake calls it needed. */
  readonly wakes: number;
}

export interface FaultStackOptions {
  readonly script: FakeScript;
  /** What the session daemon connects to: one URL or a comma-separated cluster. */
  readonly natsUrl: string;
  /** What harness daemons connect to (delta bus); default natsUrl. */
  readonly harnessNatsUrl?: string;
  /** REINS_STREAM_REPLICAS for the session daemon. */
  readonly replicas?: number;
  /** The engine the executor runs containers on; default resolveDockerHost(). */
  readonly dockerHost?: string;
  /** Environment every harness gets on top of the defaults. */
  readonly harnessEnv?: Record<string, string>;
}

/**
 * The three daemons as real processes around NATS the caller owns (one server or
 * a cluster), for fault tests: the executor listens on a fixed port so it can be
 * killed and started again where harnesses expect it, every executor process's
 * output is kept (to count tool executions across restarts), and any number of
 * harness replicas can be started and killed.
 */
export interface FaultStack extends AsyncDisposable {
  readonly session: Daemon;
  readonly fake: FakeAnthropic;
  readonly sessions: Client<typeof SessionService>;
  /** "reins.executor=<id>": the label on every container the executor makes. */
  readonly containerLabel: string;
  executor(): Daemon;
  /** SIGKILL the executor (by default) and start a new one on the same port. */
  restartExecutor(signal?: NodeJS.Signals): Promise<Daemon>;
  /** Every executor process's "tool call finished" lines, as sessionId/callId keys. */
  executions(): string[];
  startHarness(env?: Record<string, string>): Promise<Daemon>;
  /** Harness daemons that have not exited. */
  liveHarnesses(): Daemon[];
  /** Every harness daemon started, dead or alive (their output stays readable). */
  allHarnesses(): Daemon[];
  harnessClient(daemon: Daemon): Client<typeof HarnessService>;
  events(sessionId: string): Promise<Event[]>;
  /** The log once its last event is an idle or terminated status; survives broken streams. */
  settled(sessionId: string, stallMs?: number): Promise<Event[]>;
  /**
   * Settles the session, calling Wake on a live harness each time it makes no
   * progress for `stallMs` (its runner died or gave up on an infrastructure
   * fault), at most `maxWakes` times.
   */
  finish(sessionId: string, options?: { stallMs?: number; maxWakes?: number }): Promise<Finished>;
}

export function startFaultStack(options: FaultStackOptions): Promise<FaultStack> {
  return ownedFixture(async (own) => {
    const executorId = `fault-${randomUUID()}`;
    const stack = own(
      await startDaemonStack({
        script: options.script,
        natsUrl: options.natsUrl,
        ...(options.harnessNatsUrl ? { harnessNatsUrl: options.harnessNatsUrl } : {}),
        catalog,
        executorToken: "fault-stack-executor-token",
        fixedExecutorPort: true,
        // Fault tests start their harness replicas themselves.
        harnesses: 0,
        startTimeoutMs: 60_000,
        sessionEnv: options.replicas ? { REINS_STREAM_REPLICAS: String(options.replicas) } : {},
        executorEnv: {
          REINS_EXECUTOR_ID: executorId,
          REINS_EXECUTOR_MAX_CONCURRENT: "16",
          REINS_EXECUTOR_MAX_QUEUED: "1000",
          ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
        },
        harnessEnv: {
          REINS_MODEL_BACKOFF_MS: "10",
          // Replicas share sessions through the wake work queue; a dead one's sessions move after 2 s.
          REINS_WAKE_MODE: "queue",
          REINS_WAKE_ACK_WAIT_MS: "2000",
          ...options.harnessEnv,
        },
      }),
    );
    const { sessions } = stack;
    return {
      session: stack.session,
      fake: stack.fake as FakeAnthropic,
      sessions,
      containerLabel: `reins.executor=${executorId}`,
      executor: stack.executor,
      restartExecutor: stack.restartExecutor,
      executions: () =>
        stack.executors().flatMap((d) =>
          d.output
            .filter((line) => line.includes('"tool call finished"'))
            .map((line) => {
              const entry = JSON.parse(line) as { sessionId?: string; callId?: string };
              return `${entry.sessionId}/${entry.callId}`;
            }),
        ),
      startHarness: stack.startHarness,
      liveHarnesses: stack.liveHarnesses,
      allHarnesses: stack.harnesses,
      harnessClient: (daemon) => stack.harnessClient(daemon),
      events: stack.events,
      settled: (sessionId, stallMs = 30_000) => settled(sessions, sessionId, stallMs),
      async finish(sessionId, { stallMs = 10_000, maxWakes = 10 } = {}) {
        for (let wakes = 0; ; wakes++) {
          try {
            return { events: await settled(sessions, sessionId, stallMs), wakes };
          } catch (err) {
            if (!(err instanceof StalledError) || wakes >= maxWakes) throw err;
          }
          const live = stack.liveHarnesses();
          const target = live[Math.floor(Math.random() * live.length)];
          if (!target) throw new Error(`no live harness to wake ${sessionId}`);
          await stack
            .harnessClient(target)
            .wake({ sessionId })
            .catch(() => undefined);
        }
      },
    };
  });
}

export function isSettled(events: readonly Event[]): boolean {
  const last = events.at(-1);
  if (last?.payload.case !== "sessionStatus") return false;
  const { state } = last.payload.value;
  return state === RunState.IDLE || state === RunState.TERMINATED;
}

/** The session made no progress for the stall time: its runner is gone and needs a Wake. */
export class StalledError extends Error {
  override name = "StalledError";
}

// Follows the log until its last event is an idle or terminated status, resuming
// after the last event seen when the stream breaks (a NATS node or the whole
// server going away ends it with UNAVAILABLE). Throws StalledError when no event
// arrives for `stallMs`.
async function settled(sessions: Client<typeof SessionService>, sessionId: string, stallMs: number): Promise<Event[]> {
  let afterSeq = 0n;
  let lastProgress = Date.now();
  let lastError: unknown;
  while (Date.now() - lastProgress < stallMs) {
    const leave = new AbortController();
    const stall = setInterval(() => {
      if (Date.now() - lastProgress >= stallMs) leave.abort();
    }, 100);
    try {
      for await (const { event } of sessions.streamEvents({ sessionId, afterSeq }, { signal: leave.signal })) {
        if (!event) continue;
        afterSeq = event.seq;
        lastProgress = Date.now();
        if (event.payload.case !== "sessionStatus") continue;
        const { state } = event.payload.value;
        if (state === RunState.IDLE || state === RunState.TERMINATED) {
          const all = (await sessions.getEvents({ sessionId })).events;
          if (isSettled(all)) return all;
        }
      }
    } catch (err) {
      lastError = err;
      if (!leave.signal.aborted) await new Promise((r) => setTimeout(r, 250));
    } finally {
      clearInterval(stall);
      leave.abort();
    }
  }
  throw new StalledError(
    `session ${sessionId} wrote nothing after seq ${afterSeq} for ${stallMs} ms (last error: ${String(lastError)})`,
  );
}
