import { redactUrls } from "@reins/service-kit";
import {
  connect,
  DiscardPolicy,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "nats";
import type { ResolvedOptions } from "./config.js";
import { JsErrCode, jsErrorCode, StoreUnavailableError } from "./errors.js";

/** The NATS side of the store: one connection, the events stream and the KV bucket. */
export interface StoreConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kv: KV;
  /** The executor registry's bucket, whose entries expire `executorTtlMs` after their last put. */
  readonly executors: KV;
  /** True while connected and the stream and bucket are known to exist. */
  readonly ready: boolean;
  /** Throws StoreUnavailableError at once when NATS is not reachable right now. */
  assertReady(): void;
  /** A round trip to the server (PING/PONG), failing after the request timeout. */
  ping(): Promise<void>;
  /** Called with the new readiness whenever it changes. Returns an unsubscribe. */
  onReadyChange(listener: (ready: boolean) => void): () => void;
  close(): Promise<void>;
}

/**
 * Connects (waiting for NATS if it is not up yet), creates or updates the stream
 * and bucket, and keeps both true across reconnects: nats.js reconnects forever,
 * and after each reconnect the stream and bucket are ensured again, so a NATS
 * that came back with an empty store dir gets them recreated.
 */
export async function openConnection(options: ResolvedOptions, log: (msg: string) => void): Promise<StoreConnection> {
  const nc = await connect({
    servers: options.servers,
    name: options.connectionName,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    // A dead server is noticed by the socket closing; pings catch half-open links.
    pingInterval: 10_000,
    maxPingOut: 2,
    timeout: options.requestTimeoutMs,
    // nats.js otherwise allocates an Error per request to enrich timeout traces;
    // on the append path that is measurable, and our errors carry their context.
    noAsyncTraces: true,
  });
  const jsm = await nc.jetstreamManager({ timeout: options.requestTimeoutMs });
  const js = nc.jetstream({ timeout: options.requestTimeoutMs });
  await ensureStream(jsm, options);
  const kv = await js.views.kv(options.names.bucket, {
    history: 1,
    replicas: options.replicas,
    storage: StorageType.File,
    timeout: options.requestTimeoutMs,
  });
  const executors = await ensureExecutorsBucket(js, jsm, options);

  let connected = true;
  let ensured = true;
  let closed = false;
  const listeners = new Set<(ready: boolean) => void>();
  const isReady = () => connected && ensured && !closed;
  let last = isReady();
  const publishReady = () => {
    const now = isReady();
    if (now === last) return;
    last = now;
    for (const listener of listeners) listener(now);
  };

  // Re-ensure until it succeeds or the connection drops again (then the next
  // reconnect retries). JetStream may still be recovering right after a restart.
  const reEnsure = async () => {
    for (let attempt = 0; connected && !closed; attempt++) {
      try {
        await ensureStream(jsm, options);
        await js.views.kv(options.names.bucket, { history: 1, replicas: options.replicas, storage: StorageType.File });
        await ensureExecutorsBucket(js, jsm, options);
        ensured = true;
        publishReady();
        return;
      } catch (err) {
        log(`ensuring stream and bucket after reconnect failed (attempt ${attempt + 1}): ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  };

  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        connected = false;
        ensured = false;
        log(`disconnected from NATS ${String(status.data)}`);
        publishReady();
      } else if (status.type === Events.Reconnect) {
        connected = true;
        log(`reconnected to NATS ${String(status.data)}`);
        void reEnsure();
      }
    }
  })();

  return {
    nc,
    js,
    jsm,
    kv,
    executors,
    get ready() {
      return isReady();
    },
    assertReady() {
      if (closed) throw new StoreUnavailableError("the session store is shut down");
      if (!connected)
        throw new StoreUnavailableError(`NATS at ${redactUrls(options.servers)} is unreachable; reconnecting`);
      if (!ensured) throw new StoreUnavailableError("reconnected to NATS; the events stream is being re-checked");
    },
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          nc.flush(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(new StoreUnavailableError(`NATS did not answer a ping within ${options.requestTimeoutMs} ms`)),
              options.requestTimeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    onReadyChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      publishReady();
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** Largest registry entry: an ExecutorInfo is bounded well below it (executor-registry/validate.ts). */
export const maxExecutorEntryBytes = 64 * 1024;

/**
 * The registry's bucket. Its `max_age` is the heartbeat TTL: JetStream removes
 * an entry that long after its last put, so an executor that stops
 * heartbeating disappears with no sweeper. A changed TTL setting is applied to
 * an existing bucket.
 */
async function ensureExecutorsBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: ResolvedOptions,
): Promise<KV> {
  const kv = await js.views.kv(options.names.executorsBucket, {
    history: 1,
    replicas: options.replicas,
    storage: StorageType.File,
    ttl: options.executorTtlMs,
    maxValueSize: maxExecutorEntryBytes,
    timeout: options.requestTimeoutMs,
  });
  const stream = `KV_${options.names.executorsBucket}`;
  const info = await jsm.streams.info(stream);
  if (info.config.max_age !== nanos(options.executorTtlMs) || info.config.num_replicas !== options.replicas) {
    await jsm.streams.update(stream, {
      ...info.config,
      max_age: nanos(options.executorTtlMs),
      num_replicas: options.replicas,
    });
  }
  return kv;
}

function streamConfig(options: ResolvedOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: options.names.stream,
    subjects: [`${options.names.eventsSubject}.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas,
    duplicate_window: nanos(options.duplicateWindowMs),
    max_msg_size: options.maxMessageBytes,
    // Direct gets answer "last message of a subject" from any replica without a
    // round trip through the stream leader's API queue.
    allow_direct: true,
    // A session's log is never trimmed by limits; only DeleteSession purges it.
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msgs_per_subject: -1,
  };
}

/** Creates the stream, or brings the settings the store owns up to date. */
async function ensureStream(jsm: JetStreamManager, options: ResolvedOptions): Promise<void> {
  const wanted = streamConfig(options);
  try {
    const info = await jsm.streams.info(wanted.name);
    const current = info.config;
    const differs =
      current.num_replicas !== wanted.num_replicas ||
      current.duplicate_window !== wanted.duplicate_window ||
      current.max_msg_size !== wanted.max_msg_size ||
      current.allow_direct !== wanted.allow_direct ||
      current.subjects.join() !== wanted.subjects?.join();
    if (differs) await jsm.streams.update(wanted.name, { ...current, ...wanted });
  } catch (err) {
    if (jsErrorCode(err) !== JsErrCode.streamNotFound) throw err;
    await jsm.streams.add(wanted);
  }
}
