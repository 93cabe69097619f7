import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { context } from "@opentelemetry/api";
import { contextFromTraceparent, currentTraceparent } from "@reins/service-kit";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  headers,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  nanos,
  RetentionPolicy,
} from "nats";
import pRetry from "p-retry";
import type { HarnessMetrics } from "../harness-metrics.js";
import type { SessionFold } from "../log/index.js";
import { loadSession, type SessionClient } from "../log/index.js";
import type { RunOutcome } from "../loop/index.js";
import type { SessionRunner } from "./session-runner.js";
import type { WakeLease, WakeLeaseTable } from "./wake-lease.js";

export interface WakeQueueLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WakeQueueOptions {
  readonly nc: NatsConnection;
  readonly runner: SessionRunner;
  readonly sessions: SessionClient;
  /** The same table the runner's `beforeToolCall` checks. */
  readonly leases: WakeLeaseTable;
  /** Stream `<PREFIX>_WAKE`, subjects `<prefix>.wake.<session_id>`. Default "REINS". */
  readonly prefix?: string;
  /** How long a silent replica keeps a session before another takes it. */
  readonly ackWaitMs: number;
  /** Sessions this replica works at once. Default 64. */
  readonly concurrency?: number;
  /** Replicas of the wake stream: the same as the event stream's, so a cluster
   * node going down takes neither the log nor the queue with it. Default 1. */
  readonly replicas?: number;
  readonly log?: WakeQueueLogger;
  /** Where wakes taken, redelivered and their results are reported. */
  readonly metrics?: HarnessMetrics;
}

/**
 * The wake work queue: what HarnessService hands recorded work to when several
 * replicas share the sessions. `kick` publishes a wake for the session; every
 * replica pulls from one durable consumer, runs the session it got while
 * sending in-progress acks, and acks when the session needs the user or ended.
 * A turn rescheduled for later (the model was unavailable) keeps its wake on
 * the server, naked with the delay until it is due: no replica holds it meanwhile.
 * A replica that dies stops acking: the server redelivers the wake to another
 * replica after the ack wait, and that one resumes from the log.
 *
 * One session, one replica: the stream keeps at most one wake per session
 * (a publish while one is queued or being worked is refused and counts as
 * queued), so a second wake never reaches a second replica while the first
 * works. The worker reads the log once more after it is done with a wake
 * (acked, naked or lost), and queues another if the session still has work: a
 * message sent just before the ack, or a wake acked by a replica that held it
 * before, never leaves a session without one.
 */
export interface WakeQueue extends Pick<SessionRunner, "kick" | "stop" | "isRunning">, AsyncDisposable {
  /** Creates the stream and the consumer if missing, and starts pulling. */
  start(): Promise<void>;
  /** Queues a wake for the session (`lastSeq`, the log as the caller saw it, names the wake). */
  publish(sessionId: string, lastSeq: bigint): Promise<void>;
  /** Stops pulling, stops local runs and hands their wakes back at once. */
  close(): Promise<void>;
}

export function wakeNames(prefix = "REINS") {
  return {
    stream: `${prefix.toUpperCase()}_WAKE`,
    subject: `${prefix.toLowerCase()}.wake`,
    consumer: "harness",
  };
}

export function createWakeQueue(options: WakeQueueOptions): WakeQueue {
  const { nc, runner, leases, log, metrics } = options;
  const names = wakeNames(options.prefix);
  const js = nc.jetstream();
  const concurrency = options.concurrency ?? 64;
  const closing = new AbortController();
  const working = new Set<Promise<void>>();
  let pulling: Promise<void> | undefined;
  let slotFreed: (() => void) | undefined;
  let stopBatch: (() => void) | undefined;
  // Runs that failed in a row, per session. Redeliveries also count lease
  // hand-overs, which are no reason to wait longer before the next try.
  const failures = new Map<string, number>();

  const publish = async (sessionId: string, lastSeq: bigint) => {
    const h = headers();
    // Unique per call, the same for its retries: a resend after a lost reply is
    // dropped, but no earlier wake for the same seq (long since worked) can
    // swallow this one. One wake per session is the stream's own limit.
    h.set("Nats-Msg-Id", `${sessionId}:${lastSeq}:${randomUUID()}`);
    // The run the wake starts continues the trace of what caused it (a StartSession, a SendMessage).
    const { traceparent, tracestate } = currentTraceparent();
    if (traceparent !== "") h.set("traceparent", traceparent);
    if (tracestate !== "") h.set("tracestate", tracestate);
    await pRetry(
      async () => {
        try {
          await js.publish(`${names.subject}.${sessionId}`, undefined, { headers: h });
        } catch (err) {
          if (queuedAlready(err)) return;
          throw err;
        }
      },
      { retries: 5, minTimeout: 50, maxTimeout: 1_000 },
    );
  };

  async function work(msg: JsMsg): Promise<void> {
    const sessionId = msg.subject.slice(names.subject.length + 1);
    // The table sends the in-progress acks: one now, then on its timer and before each
    // tool call, and its keeper from another thread (it needs the ack subject).
    const ackSubject = (msg as unknown as { reply?: string }).reply;
    const lease = leases.hold(sessionId, () => msg.working(), ackSubject);
    let verdict: Verdict;
    metrics?.wakeTaken(msg.info.deliveryCount > 1);
    try {
      // deliveryCount is 1 on the first delivery.
      const traced = contextFromTraceparent(
        msg.headers?.get("traceparent") ?? "",
        msg.headers?.get("tracestate") ?? "",
      );
      verdict = await context.with(traced, () => runUnderLease(sessionId, lease, msg.info.deliveryCount - 1));
    } finally {
      // Before the ack or nak: no in-progress ack may follow them (it would delay a hand-back).
      lease.release();
    }
    metrics?.wakeFinished(
      typeof verdict === "object" ? "rescheduled" : verdict === "hand-back" ? "hand_back" : verdict,
    );
    if (verdict === "done") {
      failures.delete(sessionId);
      // Confirmed before the re-check: a wake published while this one is still
      // on the server would be refused as queued, and then nothing would run it.
      await msg.ackAck().catch(() => msg.ack());
    } else if (verdict === "retry") {
      const failed = (failures.get(sessionId) ?? 0) + 1;
      failures.set(sessionId, failed);
      msg.nak(Math.min(30_000, 250 * 2 ** Math.min(failed - 1, 7)));
    } else if (verdict === "hand-back") {
      msg.nak();
    } else if (typeof verdict === "object") {
      failures.delete(sessionId);
      msg.nak(Math.max(0, verdict.retryAt - Date.now()));
    } else {
      // "lost": another replica has (or will get) this wake; an ack here could end its delivery.
      log?.warn({ sessionId, lagMs: leases.lagMs() }, "wake lease lost: another replica owns the session");
    }
    // Whatever this replica did with its wake, a session with work left must keep
    // one: the wake may have been acked by a replica that held it before (its
    // in-progress acks late), and then neither a nak nor standing down brings it back.
    // A wake naked until its turn is due is the session's wake: it needs no other.
    if (verdict === "done" || verdict === "retry" || verdict === "lost") await recheck(sessionId);
  }

  /** What becomes of a wake; `retryAt`: naked until then (a rescheduled turn). */
  type Verdict = "done" | "retry" | "hand-back" | "lost" | { readonly retryAt: number };

  async function runUnderLease(sessionId: string, lease: WakeLease, redeliveries: number): Promise<Verdict> {
    if (redeliveries > 0) log?.info({ sessionId, redeliveries }, "wake redelivered: resuming the session");
    else log?.info({ sessionId }, "wake taken");
    // A fence while the lease holds means another writer (e.g. Interrupt)
    // moved the log: look at it again rather than leave the wake undone.
    for (let attempt = 1; ; attempt++) {
      let outcome: RunOutcome;
      try {
        outcome = await runner.runSession(sessionId);
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) {
          log?.info({ sessionId }, "wake for a session that no longer exists: dropped");
          return "done";
        }
        if (lease.lost()) return "lost";
        log?.error({ sessionId, err }, "run failed; the wake will be retried");
        return closing.signal.aborted ? "hand-back" : "retry";
      }
      if (lease.lost()) return "lost";
      if (outcome.kind === "idle" || outcome.kind === "terminated") return "done";
      if (outcome.kind === "rescheduled") return { retryAt: outcome.retryAt };
      if (outcome.kind === "stopped") return closing.signal.aborted ? "hand-back" : "done";
      if (attempt >= 3) return "retry";
    }
  }

  // Work recorded between the run's last look at the log and the ack found the
  // wake still queued and relied on it: queue it again. A wake still on the
  // server (naked, or held by another replica) refuses the publish: no harm.
  async function recheck(sessionId: string) {
    try {
      const fold = await pRetry(() => loadSession(options.sessions, sessionId), {
        retries: 3,
        minTimeout: 100,
        shouldRetry: ({ error }) => ConnectError.from(error).code !== Code.NotFound,
      });
      const next = fold.next();
      // A session waiting for its client has nothing to do until the client answers (and that queues a wake).
      if (next !== "idle" && next !== "terminated" && next !== "waiting") await publish(sessionId, fold.lastSeq);
    } catch (err) {
      if (ConnectError.from(err).code !== Code.NotFound)
        log?.warn({ sessionId, err }, "cannot re-check after the wake");
    }
  }

  async function pull(): Promise<void> {
    const consumer = await js.consumers.get(names.stream, names.consumer);
    while (!closing.signal.aborted) {
      const free = concurrency - working.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        continue;
      }
      try {
        const batch = await consumer.fetch({ max_messages: free, expires: 2_000 });
        stopBatch = () => batch.stop();
        for await (const msg of batch) {
          // A wake that arrives while shutting down goes straight back to the other replicas.
          if (closing.signal.aborted) {
            msg.nak();
            continue;
          }
          const job = work(msg).catch((err: unknown) => log?.error({ err, subject: msg.subject }, "wake failed"));
          working.add(job);
          void job.finally(() => {
            working.delete(job);
            slotFreed?.();
          });
        }
      } catch (err) {
        if (closing.signal.aborted) break;
        log?.warn({ err: (err as Error).message }, "wake pull failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  return {
    async start() {
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm, names.stream, names.subject, options.replicas ?? 1);
      const serverAckWaitMs = await ensureConsumer(jsm, names.stream, names.consumer, names.subject, options.ackWaitMs);
      if (serverAckWaitMs > options.ackWaitMs) {
        log?.warn(
          { ackWaitMs: options.ackWaitMs, serverAckWaitMs },
          `the wake consumer's ack wait is ${serverAckWaitMs} ms, longer than this replica's: a dead replica's ` +
            "sessions wait that long; once every replica runs with the shorter one, lower it on the consumer " +
            `(nats consumer edit ${names.stream} ${names.consumer} --wait ${options.ackWaitMs}ms)`,
        );
      }
      pulling = pull();
      log?.info(
        {
          stream: names.stream,
          ackWaitMs: options.ackWaitMs,
          serverAckWaitMs,
          renewEveryMs: leases.renewEveryMs,
          concurrency,
        },
        "pulling wakes",
      );
    },
    publish,
    kick(sessionId: string, known?: SessionFold) {
      const lastSeq = known?.lastSeq ?? 0n;
      publish(sessionId, lastSeq).catch((err: unknown) => {
        // The work is in the log: run it here rather than leave it until the next Wake.
        log?.error({ sessionId, err }, "cannot queue a wake; running the session here");
        runner.kick(sessionId, known);
      });
    },
    isRunning: (sessionId) => runner.isRunning(sessionId),
    stop: (sessionId) => runner.stop(sessionId),
    async close() {
      // Stop pulling first, so that no wake is taken by a process on its way out.
      closing.abort();
      slotFreed?.();
      stopBatch?.();
      await pulling?.catch(() => undefined);
      await runner.close();
      await Promise.allSettled([...working]);
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

async function ensureStream(jsm: JetStreamManager, stream: string, subject: string, replicas: number) {
  const config = {
    name: stream,
    num_replicas: replicas,
    subjects: [`${subject}.>`],
    retention: RetentionPolicy.Workqueue,
    // One wake per session: a second publish while one waits or is worked is refused.
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.New,
    discard_new_per_subject: true,
    duplicate_window: nanos(60_000),
  };
  try {
    await jsm.streams.info(stream);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Another replica created it first.
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * Creates the shared consumer, or raises its ack wait to this replica's; returns
 * the ack wait it has (ms). Never lowers it: a replica started with a longer one
 * (an older version, another setting) counts its leases by its own, and would
 * run tool calls of sessions the server had already handed on. Each replica's
 * lease is thus never longer than the server's.
 */
async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  subject: string,
  ackWaitMs: number,
): Promise<number> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: `${subject}.>`,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    // Shared by all replicas; each bounds its own share by how much it pulls.
    max_ack_pending: 100_000,
  };
  try {
    const info = await jsm.consumers.info(stream, durable);
    const current = info.config.ack_wait ?? 0;
    if (current >= config.ack_wait) return current / 1e6;
    await jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait });
    return ackWaitMs;
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    const added = await jsm.consumers.add(stream, config).catch(async (e: unknown) => {
      if (!/already in use|exists/i.test((e as Error).message)) throw e;
      // Another replica created it first, maybe with another ack wait.
      return ensureConsumer(jsm, stream, durable, subject, ackWaitMs);
    });
    return typeof added === "number" ? added : (added.config.ack_wait ?? config.ack_wait) / 1e6;
  }
}

// JetStream refuses a second wake for the subject with err_code 10077 ("maximum messages per subject exceeded").
function queuedAlready(err: unknown): boolean {
  const api = (err as { api_error?: { err_code?: number; description?: string } } | undefined)?.api_error;
  return api?.err_code === 10077 || /maximum messages per subject/i.test(api?.description ?? "");
}
