import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { dockerHostCandidates, repoRoot, scriptPath } from "@reins/launch";
import { execa } from "execa";
import { CliError } from "../cli-error.js";

/** Where a DOCKER_HOST value points: a unix socket or a TCP address. */
type Endpoint = { socketPath: string } | { host: string; port: number };

export function parseDockerHost(value: string): Endpoint {
  if (value.startsWith("unix://")) return { socketPath: value.slice("unix://".length) };
  const match = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(value);
  if (match?.[1] && match[2]) return { host: match[1], port: Number(match[2]) };
  throw new CliError(`unsupported DOCKER_HOST "${value}": expected unix:///path or tcp://host:port`);
}

/** GET on the engine's API: status and parsed JSON body, or undefined when it does not answer. */
function dockerGet(
  dockerHost: string,
  apiPath: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown } | undefined> {
  let endpoint: Endpoint;
  try {
    endpoint = parseDockerHost(dockerHost);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const req = http.get({ ...endpoint, path: apiPath, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: undefined });
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/** The engine's version, or undefined when nothing answers at `dockerHost`. */
export async function dockerVersion(dockerHost: string, timeoutMs = 3_000): Promise<string | undefined> {
  const res = await dockerGet(dockerHost, "/version", timeoutMs);
  const version = (res?.body as { Version?: unknown } | undefined)?.Version;
  return res?.status === 200 && typeof version === "string" ? version : undefined;
}

/** True when the engine has an image of that name. */
export async function hasImage(dockerHost: string, name: string): Promise<boolean> {
  const res = await dockerGet(dockerHost, `/images/${encodeURIComponent(name)}/json`, 5_000);
  return res?.status === 200;
}

export interface DockerEngine {
  readonly host: string;
  readonly version: string;
  /** scripts/ensure-docker.sh started a private dockerd just now. */
  readonly startedByUs: boolean;
}

const startedMarker = path.join(repoRoot, ".reins", "docker-started-by-us");

/**
 * Finds a Docker engine the way scripts/ensure-docker.sh documents it
 * ($DOCKER_HOST, then the host it last published in .reins/docker-host, then
 * the default socket) and runs that script only when none answers.
 */
export async function ensureDockerEngine(env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<DockerEngine> {
  for (const host of dockerHostCandidates(env)) {
    const version = await dockerVersion(host);
    if (version) return { host, version, startedByUs: false };
  }

  const markerBefore = existsSync(startedMarker);
  const result = await execa(scriptPath("ensure-docker.sh"), [], {
    env,
    reject: false,
    ...(signal ? { cancelSignal: signal } : {}),
    stdin: "ignore",
  });
  const last = result.stdout.trim().split("\n").pop() ?? "";
  const host = /^export DOCKER_HOST=(.+)$/.exec(last)?.[1];
  if (result.exitCode !== 0 || !host) {
    throw new CliError("no Docker engine answers and scripts/ensure-docker.sh could not start one", 1, {
      details: result.stderr.trim().split("\n").slice(-5),
    });
  }
  const version = await dockerVersion(host);
  if (!version) throw new CliError(`scripts/ensure-docker.sh reported ${host} but it does not answer`);
  return { host, version, startedByUs: !markerBefore && existsSync(startedMarker) };
}

/** Stops the private dockerd through scripts/stop-docker.sh (which checks it started it). */
export async function stopDockerEngine(): Promise<void> {
  const result = await execa(scriptPath("stop-docker.sh"), [], { reject: false, stdin: "ignore" });
  if (result.exitCode !== 0) {
    throw new CliError("scripts/stop-docker.sh failed", 1, { details: result.stderr.trim().split("\n").slice(-5) });
  }
}
