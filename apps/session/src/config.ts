import type { TlsOptions, TokenGrant } from "@reins/service-kit";
import {
  loadCorsOrigins,
  loadRegistrationTokens,
  loadServerTls,
  loadTokenGrants,
  parseListenAddress,
  parseMetricsListen,
} from "@reins/service-kit";
import { maxBatchEvents, type SessionStoreOptions } from "@reins/session-store";

/** The session daemon's configuration, read from the environment. */
export interface SessionDaemonConfig {
  readonly listen: { host: string; port: number };
  /** Prometheus metrics (REINS_SESSION_METRICS_LISTEN); undefined: off. */
  readonly metricsListen: { host: string; port: number } | undefined;
  readonly store: SessionStoreOptions;
  /** Origins allowed to call from a browser; empty: no CORS. */
  readonly corsOrigins: string[];
  /**
   * Bearer tokens, the executors' registration tokens among them (role
   * "executor"); undefined: no auth (loopback development).
   */
  readonly tokens: TokenGrant[] | undefined;
  /** HTTPS (and mTLS with a client CA); undefined: cleartext. */
  readonly tls: TlsOptions | undefined;
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)} is invalid: expected an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Reads every REINS_SESSION_* / REINS_NATS_* / REINS_STREAM_* variable. Throws an
 * error naming the variable when one is malformed: a daemon that starts with a
 * half-understood configuration is worse than one that refuses to.
 */
export async function loadConfig(env: Env = process.env): Promise<SessionDaemonConfig> {
  const listen = parseListenAddress(env.REINS_SESSION_LISTEN, 7001);
  const replicas = integer(env, "REINS_STREAM_REPLICAS", 1, 5);
  const maxMessageBytes = integer(env, "REINS_MAX_MESSAGE_BYTES", 1024, 64 * 1024 * 1024);
  const requestTimeoutMs = integer(env, "REINS_NATS_TIMEOUT_MS", 100, 600_000);
  // Per-session limits; 0 turns a limit off.
  const maxLogBytes = integer(env, "REINS_SESSION_MAX_LOG_BYTES", 0, Number.MAX_SAFE_INTEGER);
  const maxEventsPerSecond = integer(env, "REINS_SESSION_MAX_EVENTS_PER_SEC", 0, 1_000_000);
  const eventsBurst = integer(env, "REINS_SESSION_EVENTS_BURST", maxBatchEvents, 100_000_000);
  // Per stream: live events a StreamEvents reader may leave unread before it is dropped.
  // At least one batch: a reader must never fall behind on a single append.
  const maxStreamLagBytes = integer(
    env,
    "REINS_SESSION_MAX_STREAM_LAG_BYTES",
    maxMessageBytes ?? 1024 * 1024,
    Number.MAX_SAFE_INTEGER,
  );
  // The executor registry: an entry lives this long after its latest heartbeat.
  const executorTtlMs = integer(env, "REINS_EXECUTOR_TTL_MS", 1_000, 3_600_000);
  const executorHeartbeatIntervalMs = integer(env, "REINS_EXECUTOR_HEARTBEAT_INTERVAL_MS", 100, 1_800_000);
  const store: SessionStoreOptions = {
    servers: env.REINS_NATS_URL || "nats://127.0.0.1:4222",
    ...(env.REINS_STREAM_PREFIX ? { prefix: env.REINS_STREAM_PREFIX } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
    ...(maxLogBytes !== undefined ? { maxLogBytes } : {}),
    ...(maxEventsPerSecond !== undefined ? { maxEventsPerSecond } : {}),
    ...(eventsBurst !== undefined ? { eventsBurst } : {}),
    ...(maxStreamLagBytes !== undefined ? { maxStreamLagBytes } : {}),
    ...(executorTtlMs !== undefined ? { executorTtlMs } : {}),
    ...(executorHeartbeatIntervalMs !== undefined ? { executorHeartbeatIntervalMs } : {}),
  };
  const corsOrigins = loadCorsOrigins(env, "REINS_SESSION");
  const grants = loadTokenGrants(env, "REINS_SESSION");
  const registration = loadRegistrationTokens(env, "REINS_EXECUTOR_REGISTRATION");
  if (registration && !grants) {
    // Without service tokens every RPC is open, registration included: the
    // registration tokens would protect nothing.
    throw new Error(
      "REINS_EXECUTOR_REGISTRATION_TOKENS(_FILE) is set but REINS_SESSION_TOKENS(_FILE) is not: registration tokens need authentication on",
    );
  }
  if (grants && registration) {
    const service = new Set(grants.map((g) => g.token));
    const i = registration.findIndex((r) => service.has(r.token));
    if (i >= 0) {
      throw new Error(
        `REINS_EXECUTOR_REGISTRATION_TOKENS: entry ${i}: its token is also a service token; a registration token must be its own`,
      );
    }
  }
  const tokens = grants && [...grants, ...(registration ?? [])];
  const tls = loadServerTls(env, "REINS_SESSION");
  const metricsListen = parseMetricsListen(env.REINS_SESSION_METRICS_LISTEN, 9401, listen.port);
  return { listen, metricsListen, store, corsOrigins, tokens, tls };
}
