import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statfsSync, statSync } from "node:fs";
import { listLabelledVolumes, waitForNoContainers } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { parseCatalog } from "../catalog/index.js";
import { sessionLabel, workspaceLabel, workspaceVolumeName } from "../container/container-spec.js";
import { defaultCatalog, startTestExecutor } from "../testing/test-executor.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const sessionId = () => `quota-${randomBytes(6).toString("hex")}`;
const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};
const loopDevicesOf = (image: string) =>
  execFileSync("losetup", ["--associated", image], { encoding: "utf8" }).trim().split("\n").filter(Boolean);

const smallCatalog = `
workspaces: {size: 32m}
tools:
  - name: sh
    description: Run a shell command.
    input_schema: {type: object, properties: {command: {type: string}}, required: [command]}
    command: {argv: [sh, -c, "{{command}}"]}
    image: reins/sandbox-tiny
    workspace: session
`;

describe("workspace quota", () => {
  it("stops a bash call writing 2.5 GiB at the default 1 GiB, inside the sandbox, and deletes it all", async () => {
    await using t = await startTestExecutor(defaultCatalog(), { poolSize: 0 });
    const s = sessionId();
    const image = `${t.workspaceDir}/${workspaceVolumeName(s)}.img`;
    const before = freeBytes(t.workspaceDir);
    // Ten files of 250 MiB: each stays under the fsize ulimit, together they are 2.5 times the quota.
    const r = await t.run(
      "bash",
      {
        command:
          "for i in 0 1 2 3 4 5 6 7 8 9; do dd if=/dev/zero of=f$i bs=1M count=250 2>/tmp/dd || { cat /tmp/dd >&2; break; }; done; df -k . | tail -1; du -sk .",
      },
      s,
    );
    expect(r.stderr).toMatch(/No space left on device/);
    const [df, du] = r.stdout.trim().split("\n");
    const sizeKiB = Number(df?.trim().split(/\s+/)[1]);
    const writtenKiB = Number(du?.split(/\s+/)[0]);
    // ext4's journal and inode tables take a few percent of the 1 GiB.
    expect(sizeKiB * 1024).toBeGreaterThan(0.9 * GiB);
    expect(sizeKiB * 1024).toBeLessThanOrEqual(GiB);
    expect(writtenKiB * 1024).toBeGreaterThan(0.9 * GiB);
    expect(writtenKiB * 1024).toBeLessThanOrEqual(GiB);
    // The host holds the workspace's blocks in one sparse image, no more than the quota.
    expect(statSync(image).blocks * 512).toBeLessThanOrEqual(GiB);
    // Other work shares this disk: allow it 256 MiB beside the workspace's 1 GiB.
    expect(before - freeBytes(t.workspaceDir)).toBeLessThan(GiB + 256 * MiB);
    // The session's next call still runs, in the full workspace.
    const next = await t.run("bash", { command: "rm f0 && echo freed" }, s);
    expect(next).toMatchObject({ isError: false, stdout: "freed\n" });

    expect(loopDevicesOf(image)).toHaveLength(1);
    expect(await t.executor.deleteWorkspace(s)).toBe(true);
    expect(await listLabelledVolumes(t.docker, `${workspaceLabel}=${s}`)).toEqual([]);
    expect(existsSync(image)).toBe(false);
    expect(execFileSync("losetup", ["--all"], { encoding: "utf8" })).not.toContain(image);
  });

  it("sizes workspaces per catalog, and each session has its own", async () => {
    await using t = await startTestExecutor(parseCatalog(smallCatalog, "test catalog"), { poolSize: 0 });
    const [a, b] = [sessionId(), sessionId()];
    const fill = await t.run("sh", { command: "dd if=/dev/zero of=big bs=1M count=64; df -k . | tail -1" }, a);
    expect(fill.stderr).toMatch(/No space left on device/);
    expect(Number(fill.stdout.trim().split(/\s+/)[1]) * 1024).toBeLessThanOrEqual(32 * MiB);
    // A full workspace is no one else's problem.
    expect(await t.run("sh", { command: "head -c 16m /dev/zero > f && ls -l f | awk '{print $5}'" }, b)).toMatchObject({
      isError: false,
      stdout: `${16 * MiB}\n`,
    });
    expect(await t.executor.deleteWorkspace(a)).toBe(true);
    expect(await t.executor.deleteWorkspace(b)).toBe(true);
    expect(existsSync(`${t.workspaceDir}/${workspaceVolumeName(a)}.img`)).toBe(false);
  });

  it("DeleteWorkspace also removes the image and loop device of a volume someone else removed", async () => {
    // No pre-started container for the session's next call: nothing keeps the volume in use.
    const catalog = parseCatalog(smallCatalog.replace("size: 32m}", "size: 32m}\npool: {session_max: 0}"));
    await using t = await startTestExecutor(catalog, { poolSize: 0 });
    const s = sessionId();
    const image = `${t.workspaceDir}/${workspaceVolumeName(s)}.img`;
    expect((await t.run("sh", { command: "echo a > a.txt" }, s)).isError).toBe(false);
    await waitForNoContainers(t.docker, `${sessionLabel}=${s}`); // the used one is removed off the call's path
    await t.docker.getVolume(workspaceVolumeName(s)).remove();
    expect(loopDevicesOf(image)).toHaveLength(1);
    expect(await t.executor.deleteWorkspace(s)).toBe(true);
    expect(existsSync(image)).toBe(false);
    expect(execFileSync("losetup", ["--all"], { encoding: "utf8" })).not.toContain(image);
    expect(await t.executor.deleteWorkspace(s)).toBe(false);
  });
});
