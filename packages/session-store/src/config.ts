import { maxBatchEvents } from "./validate.js";

/** Options of `createSessionStore`. Every field has a production-safe default. */
export interface SessionStoreOptions {
  /** NATS server URL(s). Default "nats://127.0.0.1:4222". */
  readonly servers?: string | readonly string[];
  /**
   * Name prefix, so two deployments can share one NATS: stream `<PREFIX>_EVENTS`,
   * KV bucket `<PREFIX>_SESSIONS`, subjects `<prefix>.events.<session_id>`.
   * Letters, digits, `_` and `-`. Default "REINS".
   */
  readonly prefix?: string;
  /** Stream and bucket replicas: 1 on one server, 3 in a cluster. Default 1. */
  readonly replicas?: number;
  /** Largest stored batch (one JetStream message), in bytes. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** JetStream's `Nats-Msg-Id` dedupe window. Default (and production minimum) 2 min. */
  readonly duplicateWindowMs?: number;
  /** Bound on every NATS request; the caller gets UNAVAILABLE after it. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /**
   * Memory for session logs kept in memory, over all sessions, as estimated
   * from their stored bytes, per-event bookkeeping and the events decoded so
   * far; least recently used sessions are dropped beyond it. Default 128 MiB.
   */
  readonly cacheMaxBytes?: number;
  /** Name the connection shows in NATS monitoring. */
  readonly connectionName?: string;
  /**
   * Largest log a session may have, in bytes of its stored batches (the payloads
   * of its messages in the events stream, as `Session.log_bytes` reports). An
   * append that would cross it is refused whole. 0: no limit. Default 256 MiB.
   */
  readonly maxLogBytes?: number;
  /**
   * Sustained events per second one session may append through this store
   * (token bucket refilled at this rate; each event takes one token). 0: no
   * limit. Default 1000.
   */
  readonly maxEventsPerSecond?: number;
  /** Events a session may append at once beyond the sustained rate (the bucket's size). Default 10,000. */
  readonly eventsBurst?: number;
  /**
   * Bytes of live events one StreamEvents reader may have waiting (received
   * from NATS, not yet taken by the reader's connection) before its stream
   * ends with RESOURCE_EXHAUSTED. At least `maxMessageBytes`. Default 16 MiB.
   */
  readonly maxStreamLagBytes?: number;
  /**
   * How long an executor's registry entry lives after its latest heartbeat (the
   * `max_age` of the `<PREFIX>_EXECUTORS` bucket). Default 15 s.
   */
  readonly executorTtlMs?: number;
  /** How often executors are told to heartbeat. Below the TTL. Default a third of it. */
  readonly executorHeartbeatIntervalMs?: number;
}

/** Names derived from the prefix; everything the store creates on NATS. */
export interface StoreNames {
  readonly stream: string;
  readonly bucket: string;
  /** KV bucket of the executor registry, one key per executor id. */
  readonly executorsBucket: string;
  /** `<prefix>.events` ; a session's subject is `<eventsSubject>.<session_id>`. */
  readonly eventsSubject: string;
}

export interface ResolvedOptions extends Required<Omit<SessionStoreOptions, "servers" | "prefix">> {
  readonly servers: string[];
  readonly names: StoreNames;
}

const prefixPattern = /^[A-Za-z0-9_-]{1,32}$/;

export function resolveOptions(options: SessionStoreOptions = {}): ResolvedOptions {
  const prefix = options.prefix ?? "REINS";
  if (!prefixPattern.test(prefix)) {
    throw new Error(`stream prefix ${JSON.stringify(prefix)} is invalid: use 1-32 characters from A-Z a-z 0-9 _ -`);
  }
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new Error(`replicas must be an integer from 1 to 5, got ${replicas}`);
  }
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    throw new Error(`max message bytes must be an integer of at least 1024, got ${maxMessageBytes}`);
  }
  const maxLogBytes = options.maxLogBytes ?? 256 * 1024 * 1024;
  if (!Number.isSafeInteger(maxLogBytes) || maxLogBytes < 0) {
    throw new Error(`max log bytes must be a non-negative integer (0: no limit), got ${maxLogBytes}`);
  }
  const maxEventsPerSecond = options.maxEventsPerSecond ?? 1_000;
  if (!Number.isFinite(maxEventsPerSecond) || maxEventsPerSecond < 0) {
    throw new Error(`max events per second must be a non-negative number (0: no limit), got ${maxEventsPerSecond}`);
  }
  const eventsBurst = options.eventsBurst ?? 10_000;
  // A burst smaller than the largest batch would refuse such a batch forever.
  if (!Number.isSafeInteger(eventsBurst) || eventsBurst < maxBatchEvents) {
    throw new Error(
      `events burst must be an integer of at least ${maxBatchEvents} (the largest batch), got ${eventsBurst}`,
    );
  }
  // One batch must always fit, or a reader could fall behind on a single append.
  const maxStreamLagBytes = options.maxStreamLagBytes ?? Math.max(16 * 1024 * 1024, maxMessageBytes);
  if (!Number.isSafeInteger(maxStreamLagBytes) || maxStreamLagBytes < maxMessageBytes) {
    throw new Error(
      `max stream lag bytes must be an integer of at least the max message bytes (${maxMessageBytes}), got ${maxStreamLagBytes}`,
    );
  }
  const executorTtlMs = options.executorTtlMs ?? 15_000;
  if (!Number.isSafeInteger(executorTtlMs) || executorTtlMs < 1_000 || executorTtlMs > 3_600_000) {
    throw new Error(`executor TTL must be an integer from 1000 to 3600000 ms, got ${executorTtlMs}`);
  }
  const executorHeartbeatIntervalMs = options.executorHeartbeatIntervalMs ?? Math.floor(executorTtlMs / 3);
  // At least two heartbeats per TTL, or one lost heartbeat would drop a live executor.
  if (
    !Number.isSafeInteger(executorHeartbeatIntervalMs) ||
    executorHeartbeatIntervalMs < 100 ||
    executorHeartbeatIntervalMs > executorTtlMs / 2
  ) {
    throw new Error(
      `executor heartbeat interval must be an integer from 100 ms to half the TTL (${executorTtlMs / 2} ms), got ${executorHeartbeatIntervalMs}`,
    );
  }
  const servers = options.servers ?? "nats://127.0.0.1:4222";
  return {
    servers: typeof servers === "string" ? servers.split(",").map((s) => s.trim()) : [...servers],
    replicas,
    maxMessageBytes,
    duplicateWindowMs: options.duplicateWindowMs ?? 2 * 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    cacheMaxBytes: options.cacheMaxBytes ?? 128 * 1024 * 1024,
    connectionName: options.connectionName ?? "reins-session",
    maxLogBytes,
    maxEventsPerSecond,
    eventsBurst,
    maxStreamLagBytes,
    executorTtlMs,
    executorHeartbeatIntervalMs,
    names: {
      stream: `${prefix.toUpperCase()}_EVENTS`,
      bucket: `${prefix.toUpperCase()}_SESSIONS`,
      executorsBucket: `${prefix.toUpperCase()}_EXECUTORS`,
      eventsSubject: `${prefix.toLowerCase()}.events`,
    },
  };
}
