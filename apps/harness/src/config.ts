import type { HostToolSpec, McpServerSpec } from "@reins/harness-core";
import type { ClientTlsOptions, TlsOptions, TokenGrant } from "@reins/service-kit";
import {
  loadClientTls,
  loadCorsOrigins,
  loadSecret,
  loadServerTls,
  loadTokenGrants,
  parseListenAddress,
  parseMetricsListen,
  redactUrl,
} from "@reins/service-kit";
import { loadHostTools } from "./host-tools-config.js";
import { loadMcpServers } from "./mcp-servers-config.js";

/** Everything the daemon reads from its environment, validated once at startup. */
export interface HarnessConfig {
  readonly listen: { host: string; port: number };
  /** Prometheus metrics (REINS_HARNESS_METRICS_LISTEN); undefined: off. */
  readonly metricsListen: { host: string; port: number } | undefined;
  /** Model names kept as the `model` label (REINS_HARNESS_METRICS_MODELS); empty: the first 20 seen. */
  readonly metricsModels: readonly string[];
  /** Tokens callers present (REINS_HARNESS_TOKENS); undefined: no auth (loopback development). */
  readonly tokens: TokenGrant[] | undefined;
  /** HTTPS for callers (and mTLS with a client CA); undefined: cleartext. */
  readonly tls: TlsOptions | undefined;
  /** Origins allowed to call from a browser (REINS_HARNESS_CORS_ORIGINS); empty: no CORS. */
  readonly corsOrigins: string[];
  /** CA to trust and client certificate to present when dialling the session service. */
  readonly sessionTls: ClientTlsOptions;
  /** The same for executors. */
  readonly executorTls: ClientTlsOptions;
  readonly sessionUrl: string;
  /** Bearer token for the session service, when it requires one. */
  readonly sessionToken: string | undefined;
  readonly executorUrl: string;
  readonly executorToken: string | undefined;
  /** Executors a session's config may name besides executorUrl; the token goes to no other. */
  readonly executorAllowedUrls: string[];
  /** NATS servers; REINS_NATS_URL may list several, comma-separated (a cluster). */
  readonly natsServers: string[];
  /**
   * The deployment's name prefix on NATS (REINS_STREAM_PREFIX, as the session
   * service's): the wake stream and the live-text subjects; undefined: "REINS".
   */
  readonly streamPrefix: string | undefined;
  readonly anthropic: {
    readonly apiKey: string | undefined;
    readonly baseURL: string | undefined;
    readonly maxAttempts: number;
    readonly minBackoffMs: number;
  };
  /** A turn the model stays unavailable for (after the adapter's retries): tried again later. */
  readonly reschedule: {
    readonly attempts: number;
    readonly firstDelayMs: number;
    readonly maxDelayMs: number;
  };
  readonly defaultModel: string;
  /** HTTP tools the harness runs itself, with their secrets (REINS_HOST_TOOLS_CONFIG). */
  readonly hostTools: HostToolSpec[];
  /** Remote MCP servers whose tools the harness calls, with their credentials (REINS_MCP_SERVERS_CONFIG). */
  readonly mcpServers: McpServerSpec[];
  /** Fault injection for tests: see fault-hook.ts. Only with REINS_FAULT_INJECTION=1. */
  readonly crashAfter: string | undefined;
  /** Fault injection for tests: an event-loop stall (see fault-hook.ts). Only with REINS_FAULT_INJECTION=1. */
  readonly stallAfter: string | undefined;
  /**
   * Where sessions whose config names no executor run (REINS_HARNESS_PLACEMENT):
   * `default`, on executorUrl; `registry`, placed on a live executor of the
   * session service's registry, listings cached for cacheMs
   * (REINS_HARNESS_PLACEMENT_CACHE_MS).
   */
  readonly placement: { readonly mode: "registry" | "default"; readonly cacheMs: number };
  /** How sessions reach a replica: the shared wake work queue, or this process only. */
  readonly wake: {
    readonly mode: "queue" | "direct";
    /** Stream name prefix, the same as the session service's (`<PREFIX>_WAKE`). */
    readonly prefix: string | undefined;
    /** Silence after which another replica takes a session over. */
    readonly ackWaitMs: number;
    /** Sessions this replica works at once. */
    readonly concurrency: number;
    /** Replicas of the wake stream, like the session service's REINS_STREAM_REPLICAS. */
    readonly replicas: number;
  };
}

type Env = Record<string, string | undefined>;

/**
 * How long a SIGKILLed replica's sessions wait for another replica: the floor of
 * recovery. Short enough that a session goes on within seconds; long enough for
 * renewals every eighth of it (from the event loop and from the keeper's
 * thread) to ride out scheduling noise on a busy host. A paused replica stays
 * safe whatever the value: its lease counts as lost before the server can hand
 * the session on (wake-lease.ts).
 */
export const defaultAckWaitMs = 3_000;

// One client certificate for every service the harness dials (mTLS).
const clientCert = { cert: "REINS_HARNESS_CLIENT_CERT", key: "REINS_HARNESS_CLIENT_KEY" };

export function loadConfig(env: Env): HarnessConfig {
  const listen = parseListenAddress(env.REINS_HARNESS_LISTEN, 7002);
  return {
    listen,
    metricsListen: parseMetricsListen(env.REINS_HARNESS_METRICS_LISTEN, 9402, listen.port),
    metricsModels: (env.REINS_HARNESS_METRICS_MODELS ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter((m) => m !== ""),
    tokens: loadTokenGrants(env, "REINS_HARNESS"),
    tls: loadServerTls(env, "REINS_HARNESS"),
    corsOrigins: loadCorsOrigins(env, "REINS_HARNESS"),
    sessionTls: loadClientTls(env, { ca: "REINS_SESSION_CA", ...clientCert }),
    executorTls: loadClientTls(env, { ca: "REINS_EXECUTOR_CA", ...clientCert }),
    sessionUrl: url(env, "REINS_SESSION_URL", "http://127.0.0.1:7001"),
    sessionToken: loadSecret(env, "REINS_SESSION_TOKEN"),
    executorUrl: url(env, "REINS_EXECUTOR_URL", "http://127.0.0.1:7003"),
    executorToken: loadSecret(env, "REINS_EXECUTOR_TOKEN"),
    executorAllowedUrls: (env.REINS_EXECUTOR_ALLOWED_URLS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s, i) => url({ [`REINS_EXECUTOR_ALLOWED_URLS[${i}]`]: s }, `REINS_EXECUTOR_ALLOWED_URLS[${i}]`, "")),
    natsServers: (env.REINS_NATS_URL || "nats://127.0.0.1:4222")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    streamPrefix: streamPrefix(env),
    anthropic: {
      apiKey: env.ANTHROPIC_API_KEY || undefined,
      baseURL: env.ANTHROPIC_BASE_URL ? url(env, "ANTHROPIC_BASE_URL", "") : undefined,
      maxAttempts: integer(env, "REINS_MODEL_MAX_ATTEMPTS", 4, 1, 20),
      minBackoffMs: integer(env, "REINS_MODEL_BACKOFF_MS", 500, 0, 60_000),
    },
    reschedule: {
      attempts: integer(env, "REINS_MODEL_RESCHEDULES", 6, 0, 100),
      firstDelayMs: integer(env, "REINS_MODEL_RESCHEDULE_MS", 5_000, 1, 3_600_000),
      maxDelayMs: integer(env, "REINS_MODEL_RESCHEDULE_MAX_MS", 300_000, 1, 86_400_000),
    },
    defaultModel: env.REINS_DEFAULT_MODEL || "claude-sonnet-4-5",
    hostTools: loadHostTools(env),
    mcpServers: loadMcpServers(env),
    crashAfter: faultSpec(env, "REINS_FAULT_CRASH_AFTER"),
    stallAfter: faultSpec(env, "REINS_FAULT_STALL_AFTER"),
    placement: {
      mode: placementMode(env.REINS_HARNESS_PLACEMENT),
      cacheMs: integer(env, "REINS_HARNESS_PLACEMENT_CACHE_MS", 1000, 0, 60_000),
    },
    wake: {
      mode: wakeMode(env.REINS_WAKE_MODE),
      prefix: streamPrefix(env),
      ackWaitMs: integer(env, "REINS_WAKE_ACK_WAIT_MS", defaultAckWaitMs, 200, 3_600_000),
      concurrency: integer(env, "REINS_WAKE_CONCURRENCY", 64, 1, 10_000),
      replicas: integer(env, "REINS_STREAM_REPLICAS", 1, 1, 5),
    },
  };
}

function url(env: Env, name: string, fallback: string): string {
  const value = env[name] || fallback;
  if (!URL.canParse(value))
    throw new Error(
      `${name}=${JSON.stringify(redactUrl(value))} is not a URL (e.g. ${fallback || "http://127.0.0.1:8080"})`,
    );
  return value.replace(/\/+$/, "");
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  }
  return value;
}

// The session service's rule: the prefix goes into stream names and subjects, where `.`, `*` or `>` would break them.
function streamPrefix(env: Env): string | undefined {
  const prefix = env.REINS_STREAM_PREFIX || undefined;
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) {
    throw new Error(
      `REINS_STREAM_PREFIX=${JSON.stringify(prefix)} is invalid: use 1-32 characters from A-Z a-z 0-9 _ -`,
    );
  }
  return prefix;
}

/**
 * A fault-injection setting, honoured only when REINS_FAULT_INJECTION=1 says
 * so too: one stray variable in a production environment must not arm a
 * replica to kill or stall itself. Set without the switch, it stops the
 * daemon rather than being ignored, so the mistake is seen.
 */
function faultSpec(env: Env, name: string): string | undefined {
  const spec = env[name] || undefined;
  const enabled = env.REINS_FAULT_INJECTION;
  if (enabled !== undefined && enabled !== "" && enabled !== "0" && enabled !== "1") {
    throw new Error(`REINS_FAULT_INJECTION=${JSON.stringify(enabled)} must be 1 (on) or 0 (off)`);
  }
  if (spec !== undefined && enabled !== "1") {
    throw new Error(`${name} is set but fault injection is off: it needs REINS_FAULT_INJECTION=1 too (tests only)`);
  }
  return spec;
}

function wakeMode(raw: string | undefined): "queue" | "direct" {
  if (raw === undefined || raw === "" || raw === "queue") return "queue";
  if (raw === "direct") return "direct";
  throw new Error(`REINS_WAKE_MODE=${JSON.stringify(raw)} must be queue or direct`);
}

function placementMode(raw: string | undefined): "registry" | "default" {
  if (raw === undefined || raw === "" || raw === "default") return "default";
  if (raw === "registry") return "registry";
  throw new Error(`REINS_HARNESS_PLACEMENT=${JSON.stringify(raw)} must be "default" or "registry"`);
}
