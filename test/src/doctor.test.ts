import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const doctor = path.join(repoRoot, "scripts/doctor.sh");

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A PATH of one directory holding a link to every program on this machine's PATH (and
 * /usr/sbin, which doctor.sh adds) except `without`, plus stand-ins written as shell scripts: the
 * machine as it would be had a package not been installed, or installed without its data.
 */
async function pathWithout(without: string[], standIns: Record<string, string> = {}): Promise<string> {
  const bin = await mkdtemp(path.join(tmpdir(), "reins-doctor-path-"));
  made.push(bin);
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin"];
  const linked = new Set([...without, ...Object.keys(standIns)]);
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (linked.has(name)) continue;
      linked.add(name);
      await symlink(path.join(dir, name), path.join(bin, name));
    }
  }
  for (const [name, script] of Object.entries(standIns)) {
    const file = path.join(bin, name);
    await writeFile(file, `#!/bin/sh\n${script}\n`);
    await chmod(file, 0o755);
  }
  return bin;
}

const runDoctor = (env: NodeJS.ProcessEnv = {}) =>
  execa("bash", [doctor, "--quiet"], { env: { ...process.env, ...env }, reject: false, timeout: 60_000 });

describe("scripts/doctor.sh", () => {
  it("passes on a machine the bootstrap has set up", async () => {
    const result = await runDoctor();
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("everything Reins needs is here");
    expect(result.exitCode).toBe(0);
  });

  it("names the package of a missing program, and stops there for what depends on it", async () => {
    const result = await runDoctor({
      PATH: await pathWithout(["protoc"]),
      NATS_SERVER_BIN: path.join(tmpdir(), "reins-no-such-nats-server"),
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("protoc (Python stubs from proto/): install Debian package protobuf-compiler");
    expect(result.stderr).toContain("nats-server (the session log's JetStream): install Debian package nats-server");
    // The well-known types cannot be checked without protoc: one line for one cause.
    expect(result.stderr).not.toContain("libprotobuf-dev");
    expect(result.stderr).toContain("doctor: missing (2):");
  });

  it("names libprotobuf-dev when protoc runs but finds no well-known types", async () => {
    // What Debian's protoc says when libprotobuf-dev is absent.
    const protoc = 'echo "google/protobuf/duration.proto: File not found." >&2; exit 1';
    const result = await runDoctor({ PATH: await pathWithout([], { protoc }) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      "the well-known types protoc imports (google/protobuf/*.proto): install Debian package libprotobuf-dev",
    );
    expect(result.stderr).toContain("doctor: missing (1):");
  });

  it("names the script that builds a missing sandbox image", async () => {
    // A docker CLI whose engine has every image but the full sandbox one.
    const docker = `if [ "$1 $2 $3" = "image inspect reins/sandbox" ]; then exit 1; fi; exec ${await which("docker")} "$@"`;
    const result = await runDoctor({ PATH: await pathWithout([], { docker }) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("sandbox image reins/sandbox: install it with scripts/build-images.sh");
    expect(result.stderr).toContain("doctor: missing (1):");
  });
});

async function which(program: string): Promise<string> {
  const { stdout } = await execa("bash", ["-c", `command -v ${program}`]);
  return stdout.trim();
}
