import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { dockerHostCandidates } from "@reins/launch";
import Docker from "dockerode";
import { execa } from "execa";

/**
 * The Docker engine tests use: `DOCKER_HOST`, else the URL scripts/ensure-docker.sh
 * wrote to `.reins/docker-host`, else the default socket.
 */
export function resolveDockerHost(): string {
  return dockerHostCandidates()[0] as string;
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

/**
 * Removes every volume with the label; returns how many. A volume that mounts a loop device
 * (an executor workspace) also takes the device and its image file `<volume>.img` with it.
 */
export async function removeLabelledVolumes(docker: Docker, label: LabelFilter): Promise<number> {
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } });
  const volumes = Volumes ?? [];
  await Promise.all(
    volumes.map(async (v) => {
      await ignoreNotFound(docker.getVolume(v.Name).remove({ force: true }));
      const device = (v.Options as Record<string, string> | null | undefined)?.device;
      if (device && /^\/dev\/loop\d+$/.test(device)) await detachLoop(device, `${v.Name}.img`);
    }),
  );
  return volumes.length;
}

// Only a device still backed by the volume's own image: after a detach the number may be reused.
async function detachLoop(device: string, imageName: string): Promise<void> {
  let backing: string;
  try {
    backing = (await readFile(`/sys/block/${path.basename(device)}/loop/backing_file`, "utf8"))
      .trim()
      .replace(/ \(deleted\)$/, "");
  } catch {
    return; // detached already
  }
  if (path.basename(backing) !== imageName) return;
  await execa("losetup", ["--detach", device], { env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } });
  await rm(backing, { force: true });
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
