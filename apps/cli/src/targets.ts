import { readFileSync } from "node:fs";
import { UsageError } from "./cli-error.js";
import type { StackState } from "./stack/state-file.js";

/** Where the services are and how to authenticate to them. */
export interface Targets {
  readonly harnessUrl: string;
  readonly sessionUrl: string;
  readonly token: string | undefined;
  /** Only for reading the tool catalog; undefined when unknown. */
  readonly executorUrl: string | undefined;
  readonly executorToken: string | undefined;
}

export interface TargetOptions {
  harnessUrl?: string | undefined;
  sessionUrl?: string | undefined;
  executorUrl?: string | undefined;
  token?: string | undefined;
}

export const defaultSessionUrl = "http://127.0.0.1:7001";
export const defaultHarnessUrl = "http://127.0.0.1:7002";

/** Accepts "host:port", ":port", "port" or a full http(s) URL. */
export function normalizeUrl(value: string, what: string): string {
  const text = value.trim();
  if (/^https?:\/\//i.test(text)) {
    try {
      return new URL(text).origin;
    } catch {
      throw new UsageError(`invalid ${what} "${value}": not a URL`);
    }
  }
  const match = /^(\[[^\]]+\]|[^:/\s]*):?(\d+)$/.exec(text);
  if (!match) throw new UsageError(`invalid ${what} "${value}": expected host:port or http://host:port`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new UsageError(`invalid ${what} "${value}": port out of range`);
  return `http://${match[1] || "127.0.0.1"}:${port}`;
}

/**
 * Options win over the environment (already folded into options by commander),
 * which wins over a running stack's state file, which wins over the defaults.
 */
export function resolveTargets(
  options: TargetOptions,
  state: StackState | undefined,
  env: NodeJS.ProcessEnv = {},
): Targets {
  const fromState = (name: string) => state?.services.find((s) => s.name === name)?.url;
  const executorUrl = options.executorUrl ?? fromState("executor");
  return {
    harnessUrl: normalizeUrl(options.harnessUrl ?? fromState("harness") ?? defaultHarnessUrl, "harness URL"),
    sessionUrl: normalizeUrl(options.sessionUrl ?? fromState("session") ?? defaultSessionUrl, "session URL"),
    token: options.token || undefined,
    executorUrl: executorUrl ? normalizeUrl(executorUrl, "executor URL") : undefined,
    executorToken: env.REINS_EXECUTOR_TOKEN || readToken(state?.tokenFile),
  };
}

// The token `reins up` generated; readable only by the user who started the stack.
function readToken(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
