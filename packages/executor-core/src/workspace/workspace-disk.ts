import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { sandboxUser } from "../container/index.js";
import { WorkspaceDiskError } from "../errors.js";

const run = promisify(execFile);

/**
 * The disk behind a workspace: an ext4 image file of a fixed size, attached to a loop device
 * that Docker's local volume driver mounts. The filesystem's size is the workspace's quota, so
 * writing past it fails inside the sandbox with ENOSPC and nothing else on the host fills up.
 * The file is sparse: it takes host disk only as the workspace fills.
 *
 * Docker's local driver cannot attach a loop device itself (it hands `loop` to the kernel, which
 * refuses it), hence losetup here; this is why the executor runs as root on its engine's host.
 */
export interface WorkspaceDisk {
  /** The image file of a workspace volume. */
  imagePath(volume: string): string;
  /** Makes the image unless it exists; a crash half-way leaves a temporary file, never a half-made image. */
  create(volume: string, sizeBytes: number): Promise<void>;
  /** Attaches the image to a loop device, or finds the one it is already attached to. */
  attach(volume: string): Promise<string>;
  /** Detaches the image's loop devices and deletes it; false when there was no image. */
  destroy(volume: string): Promise<boolean>;
}

/** Most of the workspace is usable from 16 MiB up (ext4 keeps a journal and inode tables). */
export const minWorkspaceBytes = 16 * 1024 ** 2;

const packageOf: Record<string, string> = { "mkfs.ext4": "e2fsprogs", debugfs: "e2fsprogs", losetup: "mount" };

// mkfs.ext4, debugfs and losetup live in sbin, which a daemon's PATH may lack.
const toolEnv = { PATH: `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin` };

export function createWorkspaceDisk(dir: string): WorkspaceDisk {
  const imagePath = (volume: string) => path.join(dir, `${volume}.img`);

  async function command(file: string, args: string[], doing: string): Promise<string> {
    try {
      const { stdout } = await run(file, args, { env: toolEnv, timeout: 60_000 });
      return stdout.trim();
    } catch (err) {
      const e = err as { stderr?: string; code?: string | number; message: string };
      const detail =
        e.code === "ENOENT"
          ? `${file} is not installed (Debian package ${packageOf[file]})`
          : e.stderr?.trim() || e.message;
      throw new WorkspaceDiskError(`${doing}: ${detail}`, { cause: err });
    }
  }

  async function devicesOf(image: string): Promise<string[]> {
    // "/dev/loop3: [65024]:2153479 (/path/x.img)", one line per device backed by the file.
    const out = await command("losetup", ["--associated", image], `looking up the loop device of ${image}`);
    return out
      .split("\n")
      .map((line) => /^(\/dev\/loop\d+):/.exec(line)?.[1])
      .filter((d): d is string => d !== undefined);
  }

  return {
    imagePath,
    async create(volume, sizeBytes) {
      const image = imagePath(volume);
      if (await exists(image)) return;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const partial = `${image}.${randomBytes(4).toString("hex")}.partial`;
      try {
        const file = await open(partial, "wx", 0o600);
        await file.truncate(sizeBytes).finally(() => file.close());
        // No blocks reserved for root: the sandbox user gets the whole quota. The root
        // directory belongs to the sandbox user, as the image's /workspace does.
        await command(
          "mkfs.ext4",
          ["-q", "-F", "-m", "0", "-L", "reins-workspace", "-E", `root_owner=${sandboxUser}`, partial],
          `creating the workspace filesystem ${image}`,
        );
        // lost+found would greet the model in every listing; e2fsck recreates it when needed.
        await command("debugfs", ["-w", "-R", "rmdir lost+found", partial], `preparing ${image}`);
        await rename(partial, image);
      } finally {
        await rm(partial, { force: true });
      }
    },
    async attach(volume) {
      const image = imagePath(volume);
      // --nooverlap answers the device already backed by the file instead of attaching it twice
      // (two mounts of one ext4 would corrupt it).
      return command("losetup", ["--find", "--show", "--nooverlap", image], `attaching ${image} to a loop device`);
    },
    async destroy(volume) {
      const image = imagePath(volume);
      if (!(await exists(image))) return false;
      for (const device of await devicesOf(image)) {
        // A device still mounted is detached by the kernel as soon as it is unmounted.
        await command("losetup", ["--detach", device], `detaching ${device} from ${image}`);
      }
      await rm(image, { force: true });
      return true;
    },
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
