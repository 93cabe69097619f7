import type Docker from "dockerode";
import { workspaceLabel, workspaceVolumeName } from "./container-spec.js";
import { toDockerFailure } from "./docker-errors.js";

/**
 * Session workspaces: one named Docker volume per session, mounted at
 * /workspace by tools that have one, kept across calls until deleted. The
 * image's /workspace belongs to the sandbox user, and Docker copies that
 * ownership into a new, empty volume on first mount.
 */
export interface Workspaces {
  /** Creates the session's volume unless this executor already knows it exists. */
  ensure(sessionId: string): Promise<void>;
  /** Removes the volume; false when there was none. Retries while containers still release it. */
  remove(sessionId: string): Promise<boolean>;
}

export function createWorkspaces(docker: Docker, labels: Record<string, string>, inUseRetryMs = 5_000): Workspaces {
  const known = new Set<string>();
  return {
    async ensure(sessionId) {
      const name = workspaceVolumeName(sessionId);
      if (known.has(name)) return;
      try {
        await docker.createVolume({ Name: name, Labels: { ...labels, [workspaceLabel]: sessionId } });
      } catch (err) {
        throw toDockerFailure(err, `creating the workspace volume of session ${sessionId}`);
      }
      known.add(name);
    },
    async remove(sessionId) {
      const name = workspaceVolumeName(sessionId);
      known.delete(name);
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
    },
  };
}
