import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { parseListenAddress } from "@reins/service-kit";

/** Everything the daemon reads from its environment, checked once at startup. */
export interface ExecutorConfig {
  readonly listen: { host: string; port: number };
  /** The bearer token callers (the harness) must present. */
  readonly token: string;
  readonly tls: { cert: Buffer; key: Buffer; ca?: Buffer; requireClientCert: boolean } | undefined;
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
}

type Env = Record<string, string | undefined>;

export const defaultToolsConfig = fileURLToPath(new URL("../tools.yaml", import.meta.url));

export function loadConfig(env: Env): ExecutorConfig {
  const listen = parseListenAddress(env.REINS_EXECUTOR_LISTEN, 7003);
  const token = secret(env, "REINS_EXECUTOR_TOKEN");
  if (!token) {
    throw new Error(
      "REINS_EXECUTOR_TOKEN or REINS_EXECUTOR_TOKEN_FILE is required: every call must carry this bearer token",
    );
  }
  return {
    listen,
    token,
    tls: loadTls(env),
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
  };
}

function loadTls(env: Env): ExecutorConfig["tls"] {
  const certPath = env.REINS_EXECUTOR_TLS_CERT;
  const keyPath = env.REINS_EXECUTOR_TLS_KEY;
  if (!certPath && !keyPath) return undefined;
  if (!certPath || !keyPath) {
    throw new Error("REINS_EXECUTOR_TLS_CERT and REINS_EXECUTOR_TLS_KEY must be set together (PEM file paths)");
  }
  const caPath = env.REINS_EXECUTOR_TLS_CLIENT_CA;
  return {
    cert: file("REINS_EXECUTOR_TLS_CERT", certPath),
    key: file("REINS_EXECUTOR_TLS_KEY", keyPath),
    ...(caPath ? { ca: file("REINS_EXECUTOR_TLS_CLIENT_CA", caPath) } : {}),
    requireClientCert: Boolean(caPath),
  };
}

function file(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${name}=${path} cannot be read: ${(err as Error).message}`);
  }
}

// A secret comes from NAME or from the file named by NAME_FILE (e.g. a mounted secret).
function secret(env: Env, name: string): string | undefined {
  if (env[name]) return env[name];
  const path = env[`${name}_FILE`];
  if (!path) return undefined;
  const value = file(`${name}_FILE`, path).toString("utf8").trim();
  if (!value) throw new Error(`${name}_FILE=${path} is empty`);
  return value;
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
