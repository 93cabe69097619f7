import type Docker from "dockerode";
import { workspaceLabel, workspaceVolumeName } from "../container/index.js";
import { toDockerFailure } from "../errors.js";
import { createWorkspaceDisk } from "./workspace-disk.js";

/**
 * Session workspaces: one named Docker volume per session, mounted at /workspace by tools
 * that have one, kept across calls until deleted. Each volume is an ext4 filesystem of the
 * catalog's workspace size in its own image file (see WorkspaceDisk): the size is a quota
 * that holds inside the sandbox. The volume only points at the image's loop device, so it
 * is made again whenever that device changes (after a reboot); the files live in the image.
 */
export interface Workspaces {
  /** Creates the session's disk and volume unless this executor already made sure of them. */
  ensure(sessionId: string): Promise<void>;
  /**
   * Removes the volume, its loop device and its image; false when there was none. Retries
   * while containers still release the volume.
   */
  remove(sessionId: string): Promise<boolean>;
}

export interface WorkspaceSettings {
  /** Where the image files live, on the Docker engine's host. */
  readonly dir: string;
  /** Size of each workspace's filesystem. */
  readonly sizeBytes: number;
}

/** Mount options of every workspace: nothing setuid or device-like counts on it. */
const mountOptions = "nosuid,nodev";

export function createWorkspaces(
  docker: Docker,
  labels: Record<string, string>,
  settings: WorkspaceSettings,
  inUseRetryMs = 5_000,
): Workspaces {
  const disk = createWorkspaceDisk(settings.dir);
  const known = new Set<string>();
  // One creation per session at a time: parallel first calls share it.
  const creating = new Map<string, Promise<void>>();

  async function create(sessionId: string, name: string): Promise<void> {
    const current = await docker
      .getVolume(name)
      .inspect()
      .catch((err: unknown) => {
        const failure = toDockerFailure(err, `looking up the workspace volume of session ${sessionId}`);
        if (failure.kind === "not-found") return undefined;
        throw failure;
      });
    // A plain volume made before workspaces had a size: its files stay where they are.
    if (current && !current.Options?.device) return;
    await disk.create(name, settings.sizeBytes);
    const device = await disk.attach(name);
    if (current?.Options?.device === device) return;
    if (current) await removeVolume(sessionId, name);
    try {
      await docker.createVolume({
        Name: name,
        Driver: "local",
        DriverOpts: { type: "ext4", device, o: mountOptions },
        Labels: { ...labels, [workspaceLabel]: sessionId },
      });
    } catch (err) {
      throw toDockerFailure(err, `creating the workspace volume of session ${sessionId}`);
    }
  }

  async function removeVolume(sessionId: string, name: string): Promise<boolean> {
    const deadline = Date.now() + inUseRetryMs;
    for (;;) {
      try {
        await docker.getVolume(name).remove();
        return true;
      } catch (err) {
        const failure = toDockerFailure(err, `removing the workspace volume of session ${sessionId}`);
        if (failure.kind === "not-found") return false;
        // Containers of the session are being removed right now; give them a moment.
        if (failure.kind !== "in-use" || Date.now() > deadline) throw failure;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  return {
    async ensure(sessionId) {
      const name = workspaceVolumeName(sessionId);
      if (known.has(name)) return;
      let pending = creating.get(name);
      if (!pending) {
        pending = create(sessionId, name).finally(() => creating.delete(name));
        creating.set(name, pending);
      }
      await pending;
      known.add(name);
    },
    async remove(sessionId) {
      const name = workspaceVolumeName(sessionId);
      await creating.get(name)?.catch(() => {});
      known.delete(name);
      // The volume first: while it exists a container could mount the image.
      const hadVolume = await removeVolume(sessionId, name);
      const hadImage = await disk.destroy(name);
      return hadVolume || hadImage;
    },
  };
}
