import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { daemonEntry, listeningUrl } from "@reins/launch";
import { scriptedModelEntry } from "./paths.js";
import { type Spawned, spawnLogged } from "./spawn-logged.js";

export interface NatsOptions {
  readonly binary: string;
  readonly port: number;
  readonly storeDir: string;
  readonly logDir: string;
  readonly signal?: AbortSignal | undefined;
}

export function startNats(options: NatsOptions): Promise<Spawned> {
  const url = `nats://127.0.0.1:${options.port}`;
  return spawnLogged({
    name: "nats",
    command: options.binary,
    args: ["-a", "127.0.0.1", "-p", String(options.port), "-js", "-sd", options.storeDir],
    env: baseEnv(process.env),
    logFile: path.join(options.logDir, "nats.log"),
    ready: (line) => (line.includes("Server is ready") ? url : undefined),
    timeoutMs: 20_000,
    signal: options.signal,
  });
}

export interface DaemonOptions {
  readonly app: "executor" | "session" | "harness" | "console";
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
  readonly signal?: AbortSignal | undefined;
}

export function startDaemonProcess(options: DaemonOptions): Promise<Spawned> {
  return spawnLogged({
    name: options.app,
    command: process.execPath,
    args: [daemonEntry(options.app)],
    env: options.env,
    logFile: path.join(options.logDir, `${options.app}.log`),
    ready: listeningUrl,
    timeoutMs: 30_000,
    signal: options.signal,
  });
}

/** The stand-in for Claude when no model key is given (see scripted-model/). */
export function startScriptedModel(options: {
  readonly apiKey: string;
  readonly logDir: string;
  readonly signal?: AbortSignal | undefined;
}): Promise<Spawned> {
  return spawnLogged({
    name: "model",
    command: process.execPath,
    args: [scriptedModelEntry],
    env: { ...baseEnv(process.env), REINS_SCRIPTED_MODEL_PORT: "0", REINS_SCRIPTED_MODEL_KEY: options.apiKey },
    logFile: path.join(options.logDir, "model.log"),
    ready: listeningUrl,
    timeoutMs: 30_000,
    signal: options.signal,
  });
}

const commonVars = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "REINS_LOG_LEVEL"];

/** What every child gets: enough to run, nothing secret. */
export function baseEnv(from: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of commonVars) if (from[name] !== undefined) env[name] = from[name];
  return env;
}

/**
 * A daemon's environment: the base, the caller's variables meant for it (by
 * prefix), then what `reins up` decides. The executor never gets model keys:
 * credentials stay out of the sandbox host entirely.
 */
export function daemonEnv(
  from: NodeJS.ProcessEnv,
  prefixes: readonly string[],
  set: Record<string, string>,
): NodeJS.ProcessEnv {
  const env = baseEnv(from);
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && prefixes.some((p) => name.startsWith(p))) env[name] = value;
  }
  return { ...env, ...set };
}

/** A fresh random bearer token for the executor, in a file only we can read. */
export async function writeExecutorToken(file: string): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * A fresh registration token for the stack's executor: its own file for the
 * executor, and the session service's registration list binding it to `id`.
 */
export async function writeRegistrationTokens(
  paths: { readonly registrationTokenFile: string; readonly registrationTokensFile: string },
  id: string,
): Promise<{ tokenFile: string; tokensFile: string }> {
  const token = randomBytes(32).toString("base64url");
  await writeFile(paths.registrationTokenFile, `${token}\n`, { mode: 0o600 });
  await writeFile(paths.registrationTokensFile, JSON.stringify([{ executor: id, token }]), { mode: 0o600 });
  return { tokenFile: paths.registrationTokenFile, tokensFile: paths.registrationTokensFile };
}
