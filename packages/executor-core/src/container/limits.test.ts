import { waitForNoContainers } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { shCatalog, startTestExecutor } from "../testing/test-executor.js";

describe("limits", () => {
  it("kills a call at its timeout and says so", async () => {
    await using t = await startTestExecutor(shCatalog({ timeout: "1500ms" }));
    const r = await t.run("sh", { command: "echo started; sleep 30" });
    expect(r).toMatchObject({ isError: true, timedOut: true, stdout: "started\n" });
    expect(r.output).toBe("started\n[timed out after 1.5 s; the process was killed]");
    expect(r.durationMs).toBeLessThan(15_000);
  });

  it("reports running out of memory", async () => {
    await using t = await startTestExecutor(shCatalog({ memory: "16m" }));
    // dd allocates its whole block size at once: 64 MiB against a 16 MiB limit.
    const r = await t.run("sh", { command: "echo before; dd if=/dev/zero of=/dev/null bs=64M count=1; echo after $?" });
    expect(r.oomKilled).toBe(true);
    expect(r.isError).toBe(true);
    expect(r.stdout).toBe("before\nafter 137\n");
    expect(r.output).toContain("[out of memory: a process was killed at the 16 MiB memory limit]");
  });

  it("keeps a process storm inside the pids limit, and a fork bomb ends at the timeout", async () => {
    await using t = await startTestExecutor(shCatalog({ pids: 32, timeout: 3 }));
    // The storm's shell dies when fork fails; its children stay. Counting uses
    // builtins only, since at the limit no further process can start.
    const storm = await t.run("sh", {
      command:
        "sh -c 'for i in $(seq 100); do sleep 30 & done' 2>/dev/null; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n",
    });
    const processes = Number(storm.stdout.trim());
    expect(processes).toBeGreaterThan(20);
    expect(processes).toBeLessThanOrEqual(32);
    const bomb = await t.run("sh", { command: "bomb() { bomb | bomb & }; bomb; sleep 30" });
    expect(bomb).toMatchObject({ isError: true, timedOut: true });
    // The executor and the engine are fine: the next call runs normally.
    expect((await t.run("sh", { command: "echo alive" })).stdout).toBe("alive\n");
  });

  it("cuts output at the cap with a visible marker", async () => {
    await using t = await startTestExecutor(shCatalog({ max_output_bytes: 1000 }));
    const r = await t.run("sh", { command: "yes 0123456789 | head -c 5000; echo oops >&2" });
    expect(r.truncated).toBe(true);
    expect(r.isError).toBe(false);
    expect(Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(1000);
    expect(r.stderr).toBe("oops\n");
    expect(r.output).toMatch(/\[output truncated: 1000 B of 4\.9 KiB shown \(cap 1000 B\)\]$/);
  });

  it("stops a process that floods far beyond the cap instead of streaming it all", async () => {
    await using t = await startTestExecutor(shCatalog({ max_output_bytes: 1000, timeout: 60 }));
    const r = await t.run("sh", { command: "yes" });
    expect(r).toMatchObject({ isError: true, truncated: true, timedOut: false });
    expect(r.output).toContain("[the process kept writing far beyond the output cap and was stopped]");
    expect(r.durationMs).toBeLessThan(30_000);
  });

  it("creates every container hardened: no network, read-only root, no capabilities, non-root, limits", async () => {
    await using t = await startTestExecutor(
      shCatalog({ memory: "48m", pids: 40, cpus: 0.5, tmpfs_size: "8m" }, { size: 1 }),
    );
    await t.executor.ready();
    const [summary] = await t.docker.listContainers({ filters: { label: [t.label] } });
    const info = await t.docker.getContainer(summary?.Id ?? "").inspect();
    const host = info.HostConfig;
    expect(host.NetworkMode).toBe("none");
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(host.Privileged).toBe(false);
    expect(host.PidsLimit).toBe(40);
    expect(host.Memory).toBe(48 * 1024 * 1024);
    expect(host.MemorySwap).toBe(48 * 1024 * 1024);
    expect(host.NanoCpus).toBe(500_000_000);
    expect(host.Binds ?? []).toEqual([]);
    expect(info.Mounts).toEqual([]);
    expect(host.Tmpfs).toEqual({ "/tmp": `rw,nosuid,nodev,size=${8 * 1024 * 1024}` });
    expect(info.Config.User).toBe("1000:1000");
    // Docker puts the image's PATH in; the tool process itself starts from `env -i`.
    expect(info.Config.Env ?? []).toEqual(["PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"]);

    // And from the inside.
    const r = await t.run("sh", {
      command: [
        "id -u",
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
        "ls /sys/class/net",
        "touch /evil 2>&1 || true",
        "touch /tmp/ok && echo tmp writable",
        "df -k /tmp | tail -1 | awk '{print $2}'",
      ].join("; "),
    });
    expect(r.stdout.split("\n")).toEqual([
      "1000",
      "CapEff:\t0000000000000000",
      "CapBnd:\t0000000000000000",
      "NoNewPrivs:\t1",
      "lo",
      "touch: /evil: Read-only file system",
      "tmp writable",
      "8192",
      "",
    ]);
    await t.executor.close(1_000);
    await waitForNoContainers(t.docker, t.label);
  });
});
