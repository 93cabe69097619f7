import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, with a trailing slash: this file is
 * packages/launch/{src,dist}/repo.{ts,js}, three levels below it either way.
 */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** `node apps/<app>/dist/main.js`: the entry of a built daemon. */
export function daemonEntry(app: string): string {
  return path.join(repoRoot, "apps", app, "dist", "main.js");
}

/** A script under scripts/. */
export function scriptPath(name: string): string {
  return path.join(repoRoot, "scripts", name);
}

/**
 * The nats-server executable: NATS_SERVER_BIN, else the first on PATH, else
 * Debian's /usr/sbin (not on a normal user's PATH). Undefined when missing.
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NATS_SERVER_BIN) return existsSync(env.NATS_SERVER_BIN) ? env.NATS_SERVER_BIN : undefined;
  const dirs = [...(env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin"];
  return dirs
    .filter(Boolean)
    .map((dir) => path.join(dir, "nats-server"))
    .find((file) => existsSync(file));
}

/**
 * Where to look for a Docker engine, in order, as scripts/ensure-docker.sh
 * documents it: $DOCKER_HOST, then the host that script last published in
 * .reins/docker-host, then the default socket.
 */
export function dockerHostCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [env.DOCKER_HOST, publishedDockerHost(), "unix:///var/run/docker.sock"].filter((h): h is string => Boolean(h));
}

function publishedDockerHost(): string | undefined {
  try {
    return readFileSync(path.join(repoRoot, ".reins", "docker-host"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
