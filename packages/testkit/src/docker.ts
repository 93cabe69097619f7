import { readFileSync } from "node:fs";
import Docker from "dockerode";
import { repoRoot } from "./daemon.js";

/**
 * The Docker engine tests use: `DOCKER_HOST`, else the URL scripts/ensure-docker.sh
 * wrote to `.reins/docker-host`, else the default socket.
 */
export function resolveDockerHost(): string {
  if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  try {
    const recorded = readFileSync(`${repoRoot}.reins/docker-host`, "utf8").trim();
    if (recorded) return recorded;
  } catch {
    // no private engine recorded
  }
  return "unix:///var/run/docker.sock";
}

/** A dockerode client for `host` ("unix:///path" or "tcp://host:port"; default: resolveDockerHost()). */
export function connectDocker(host: string = resolveDockerHost()): Docker {
  if (host.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length) });
  if (host.startsWith("/")) return new Docker({ socketPath: host });
  const url = new URL(host.replace(/^tcp:/, "http:"));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
}

/** "key=value" or "key" (any value), as Docker's label filter takes them. */
export type LabelFilter = string;

/** Ids of all containers (running or not) that carry the label. */
export async function listLabelledContainers(docker: Docker, label: LabelFilter): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  return list.map((c) => c.Id);
}

/** Force-removes every container with the label (and its anonymous volumes); returns how many. */
export async function removeLabelledContainers(docker: Docker, label: LabelFilter): Promise<number> {
  const ids = await listLabelledContainers(docker, label);
  await Promise.all(ids.map((id) => ignoreNotFound(docker.getContainer(id).remove({ force: true, v: true }))));
  return ids.length;
}

/** Names of the volumes that carry the label. */
export async function listLabelledVolumes(docker: Docker, label: LabelFilter): Promise<string[]> {
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } });
  return (Volumes ?? []).map((v) => v.Name);
}

/** Removes every volume with the label; returns how many. */
export async function removeLabelledVolumes(docker: Docker, label: LabelFilter): Promise<number> {
  const names = await listLabelledVolumes(docker, label);
  await Promise.all(names.map((name) => ignoreNotFound(docker.getVolume(name).remove({ force: true }))));
  return names.length;
}

/**
 * Waits until no container carries the label. Docker offers no event for "the last
 * one is gone" across restarts of the caller, so this polls, with a deadline.
 */
export async function waitForNoContainers(docker: Docker, label: LabelFilter, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left: string[] = [];
  while (Date.now() < deadline) {
    left = await listLabelledContainers(docker, label);
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${left.length} container(s) labelled ${label} still exist after ${timeoutMs} ms: ${left.join(", ")}`,
  );
}

/**
 * Removes the labelled containers and volumes when disposed, so a test leaves
 * nothing behind even when it fails: `await using _ = dockerCleanup(docker, label)`.
 */
export function dockerCleanup(docker: Docker, label: LabelFilter): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      await removeLabelledContainers(docker, label);
      // Containers Docker is still auto-removing keep their volumes busy until they are gone.
      await waitForNoContainers(docker, label);
      await removeLabelledVolumes(docker, label);
      const left = await listLabelledVolumes(docker, label);
      if (left.length > 0) throw new Error(`volumes labelled ${label} could not be removed: ${left.join(", ")}`);
    },
  };
}

/** Copies an image from one engine to another (docker save | docker load). */
export async function copyImage(from: Docker, to: Docker, name: string): Promise<void> {
  const tar = await from.getImage(name).get();
  const load = (await to.loadImage(tar, { quiet: true })) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    load.on("data", () => {});
    load.on("end", resolve);
    load.on("error", reject);
  });
  await to.getImage(name).inspect();
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
  }
}
