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
   * Encoded bytes of session logs kept in memory, over all sessions; least
   * recently used sessions are dropped beyond it (decoded events take roughly
   * three times their encoded size). Default 128 MiB.
   */
  readonly cacheMaxBytes?: number;
  /** Name the connection shows in NATS monitoring. */
  readonly connectionName?: string;
}

/** Names derived from the prefix; everything the store creates on NATS. */
export interface StoreNames {
  readonly stream: string;
  readonly bucket: string;
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
  const servers = options.servers ?? "nats://127.0.0.1:4222";
  return {
    servers: typeof servers === "string" ? servers.split(",").map((s) => s.trim()) : [...servers],
    replicas,
    maxMessageBytes,
    duplicateWindowMs: options.duplicateWindowMs ?? 2 * 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    cacheMaxBytes: options.cacheMaxBytes ?? 128 * 1024 * 1024,
    connectionName: options.connectionName ?? "reins-session",
    names: {
      stream: `${prefix.toUpperCase()}_EVENTS`,
      bucket: `${prefix.toUpperCase()}_SESSIONS`,
      eventsSubject: `${prefix.toLowerCase()}.events`,
    },
  };
}
