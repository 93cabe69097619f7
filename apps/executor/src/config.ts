import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TlsOptions, TokenGrant } from "@reins/service-kit";
import {
  loadSecret,
  loadServerTls,
  loadTokenGrants,
  minTokenLength,
  parseListenAddress,
  parseMetricsListen,
} from "@reins/service-kit";
import { loadRegistrationConfig, type RegistrationConfig } from "./registration/index.js";

/** Everything the daemon reads from its environment, checked once at startup. */
export interface ExecutorConfig {
  readonly listen: { host: string; port: number };
  /** Prometheus metrics (REINS_EXECUTOR_METRICS_LISTEN); undefined: off. */
  readonly metricsListen: { host: string; port: number } | undefined;
  /** Tokens callers present. Only grants of the harness role are let through;
   * the others are known so that they get PERMISSION_DENIED, not UNAUTHENTICATED. */
  readonly tokens: TokenGrant[];
  readonly tls: TlsOptions | undefined;
  /** Path of the tool catalog (YAML). */
  readonly toolsConfig: string;
  /** Replaces the catalog's default image (tools naming their own keep it). */
  readonly image: string | undefined;
  readonly dockerHost: string | undefined;
  /** Scopes container labels: a restart with the same id removes what the previous life left. */
  readonly daemonId: string;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly poolSize: number | undefined;
  readonly maxRequestBytes: number;
  /** How long running calls may finish after SIGTERM before they are killed. */
  readonly shutdownGraceMs: number;
  /** Directory of the workspaces' filesystem images; undefined: the executor's default. */
  readonly workspaceDir: string | undefined;
  /** Self-registration in the executor registry; undefined: it does not register. */
  readonly registration: RegistrationConfig | undefined;
}

type Env = Record<string, string | undefined>;

export const defaultToolsConfig = fileURLToPath(new URL("../tools.yaml", import.meta.url));

export function loadConfig(env: Env): ExecutorConfig {
  const listen = parseListenAddress(env.REINS_EXECUTOR_LISTEN, 7003);
  const tokens = loadTokens(env);
  return {
    listen,
    metricsListen: parseMetricsListen(env.REINS_EXECUTOR_METRICS_LISTEN, 9403, listen.port),
    tokens,
    tls: loadServerTls(env, "REINS_EXECUTOR"),
    toolsConfig: env.REINS_TOOLS_CONFIG || defaultToolsConfig,
    image: env.REINS_SANDBOX_IMAGE || undefined,
    dockerHost: env.DOCKER_HOST || undefined,
    // One executor per host and port by default. With port 0 (tests) the id is per
    // process, so parallel daemons on one engine never remove each other's containers.
    daemonId: env.REINS_EXECUTOR_ID || `${hostname()}-${listen.port === 0 ? `pid${process.pid}` : listen.port}`,
    maxConcurrent: integer(env, "REINS_EXECUTOR_MAX_CONCURRENT", 8, 1, 1024),
    maxQueued: integer(env, "REINS_EXECUTOR_MAX_QUEUED", 64, 0, 100_000),
    poolSize: env.REINS_EXECUTOR_POOL_SIZE ? integer(env, "REINS_EXECUTOR_POOL_SIZE", 2, 0, 64) : undefined,
    maxRequestBytes: integer(env, "REINS_EXECUTOR_MAX_REQUEST_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    shutdownGraceMs: integer(env, "REINS_EXECUTOR_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    workspaceDir: absolutePath(env, "REINS_EXECUTOR_WORKSPACE_DIR"),
    registration: loadRegistrationConfig(env, listen),
  };
}

// REINS_EXECUTOR_TOKEN (or _FILE) is one harness token; REINS_EXECUTOR_TOKENS
// (or _FILE) a grants list, e.g. the old and new harness token during a rotation.
function loadTokens(env: Env): TokenGrant[] {
  const single = loadSecret(env, "REINS_EXECUTOR_TOKEN");
  if (single !== undefined && single.length < minTokenLength) {
    throw new Error(`REINS_EXECUTOR_TOKEN needs at least ${minTokenLength} characters`);
  }
  const tokens = [
    ...(single !== undefined ? [{ token: single, role: "harness", tenant: "" }] : []),
    ...(loadTokenGrants(env, "REINS_EXECUTOR") ?? []),
  ];
  if (!tokens.some((t) => t.role === "harness")) {
    throw new Error(
      "REINS_EXECUTOR_TOKEN (or _FILE), or REINS_EXECUTOR_TOKENS (or _FILE) with a harness token, is required: every call must carry a harness bearer token",
    );
  }
  if (new Set(tokens.map((t) => t.token)).size !== tokens.length) {
    throw new Error("REINS_EXECUTOR_TOKEN is also listed in REINS_EXECUTOR_TOKENS: list it once");
  }
  return tokens;
}

// A relative path would depend on the directory the daemon was started in.
function absolutePath(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!path.isAbsolute(raw)) throw new Error(`${name}=${JSON.stringify(raw)} must be an absolute path`);
  return raw;
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
