import { createHash } from "node:crypto";
import type Docker from "dockerode";
import type { ToolSpec } from "../catalog/index.js";
import { runnerArgv } from "./command.js";

/** Label every container of one executor carries: `reins.executor=<daemon id>`. */
export const daemonLabel = "reins.executor";
/** Label of the session whose workspace a container mounts. */
export const sessionLabel = "reins.executor.session";
/** Label carrying the profile key, so pooled containers can be told apart. */
export const profileLabel = "reins.executor.profile";
/** Label of workspace volumes: the session id. */
export const workspaceLabel = "reins.executor.workspace";

/**
 * Everything that shapes a container before a call arrives. Tools with equal
 * profiles share warm containers; call-specific parts (argv, stdin, env) arrive
 * later on stdin.
 */
export interface ContainerProfile {
  readonly key: string;
  readonly image: string;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly pids: number;
  readonly tmpfsBytes: number;
  readonly network: string;
  /** Engine runtime (HostConfig.Runtime); undefined: the engine's default. */
  readonly runtime: string | undefined;
  /** Workspace volume mounted at /workspace, if any. */
  readonly volume: string | undefined;
  readonly sessionId: string | undefined;
}

export function workspaceVolumeName(sessionId: string): string {
  return `reins-ws-${sessionId}`;
}

export function profileOf(tool: ToolSpec, sessionId: string | undefined): ContainerProfile {
  const volume = tool.workspace === "session" && sessionId ? workspaceVolumeName(sessionId) : undefined;
  const shape = {
    image: tool.image,
    memoryBytes: tool.memoryBytes,
    cpus: tool.cpus,
    pids: tool.pids,
    tmpfsBytes: tool.tmpfsBytes,
    network: tool.network,
    // Part of the key: a warm runc container must never serve a runsc tool.
    runtime: tool.runtime,
  };
  const hash = createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 12);
  return {
    ...shape,
    key: volume ? `${hash}/${sessionId}` : hash,
    volume,
    sessionId: volume ? sessionId : undefined,
  };
}

/** The unprivileged user of the sandbox images. */
export const sandboxUser = "1000:1000";

/**
 * Create options of a hardened single-use container: no network, read-only root,
 * only /tmp (tmpfs) and the workspace writable, no capabilities, no privilege
 * gain, a non-root user, pids/memory/CPU limits, no host mounts, no environment
 * and no logs kept by Docker (the executor reads the output directly).
 */
export function containerCreateOptions(
  profile: ContainerProfile,
  labels: Record<string, string>,
): Docker.ContainerCreateOptions {
  return {
    Image: profile.image,
    Cmd: [...runnerArgv],
    Entrypoint: [],
    User: sandboxUser,
    Env: [],
    WorkingDir: "/tmp",
    Hostname: "sandbox",
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    // Nothing in a sandbox deserves a graceful stop, and PID 1 (sh) ignores SIGTERM:
    // an engine shutting down must not wait on it.
    StopSignal: "SIGKILL",
    NetworkDisabled: profile.network === "none",
    Labels: {
      ...labels,
      [profileLabel]: profile.key.split("/")[0] ?? profile.key,
      ...(profile.sessionId ? { [sessionLabel]: profile.sessionId } : {}),
    },
    HostConfig: {
      ...(profile.runtime ? { Runtime: profile.runtime } : {}),
      NetworkMode: profile.network,
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${profile.tmpfsBytes}` },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      PidsLimit: profile.pids,
      Memory: profile.memoryBytes,
      MemorySwap: profile.memoryBytes,
      NanoCpus: Math.round(profile.cpus * 1e9),
      IpcMode: "private",
      ShmSize: 1024 * 1024,
      Ulimits: [
        { Name: "nofile", Soft: 1024, Hard: 1024 },
        // A single file can never exceed the tmpfs, and a workspace file stays bounded.
        { Name: "fsize", Soft: 256 * 1024 * 1024, Hard: 256 * 1024 * 1024 },
      ],
      Binds: [],
      Mounts: profile.volume ? [{ Type: "volume", Source: profile.volume, Target: "/workspace", ReadOnly: false }] : [],
      LogConfig: { Type: "none", Config: {} },
      // Docker removes a stopped container itself. The executor removes it too (right
      // after the call); this covers a crashed executor, whose warm containers see
      // stdin close, exit, and so disappear without anyone sweeping.
      AutoRemove: true,
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    },
  };
}
