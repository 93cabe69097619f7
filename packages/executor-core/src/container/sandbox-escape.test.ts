import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shCatalog, startTestExecutor, type TestExecutor } from "../testing/test-executor.js";

// Each check runs inside a real tool call, as model-written code would, under each isolation
// tier: the hardening is the executor's and must hold whatever the runtime.
describe.each([
  { tier: "runc (the engine's default)", limits: {}, runtime: "runc", noNewPrivsLine: "NoNewPrivs:\t1\n" },
  // gVisor's /proc/<pid>/status has no NoNewPrivs line: the container's own config shows it below.
  { tier: "runsc (gVisor)", limits: { runtime: "runsc" }, runtime: "runsc", noNewPrivsLine: "" },
])("sandbox escape checks under $tier", ({ limits, runtime, noNewPrivsLine }) => {
  const canary = `canary-${randomBytes(12).toString("hex")}`;
  let t: TestExecutor;
  let server: http.Server;
  let hostPort = 0;

  beforeAll(async () => {
    // The executor runs in this process: its environment is the one that must not leak.
    process.env.REINS_TEST_CANARY = canary;
    t = await startTestExecutor(shCatalog({ tmpfs_size: "8m", env: { VISIBLE: "named-in-config" }, ...limits }));
    server = http.createServer((_, res) => res.end("host service"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    hostPort = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    delete process.env.REINS_TEST_CANARY;
    server?.close();
    await t?.[Symbol.asyncDispose]();
  });

  const sh = async (command: string) => (await t.run("sh", { command })).output;

  it("gives the process only PATH, HOME and the variables its tool names", async () => {
    const env = await sh("env | sort");
    expect(env).toBe(
      // PWD and SHLVL are the shell's own.
      "HOME=/tmp\nPATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin\nPWD=/tmp\nSHLVL=1\nVISIBLE=named-in-config\n",
    );
  });

  it("never shows the executor's secrets in the environment, /proc or files", async () => {
    // Bracketed last characters keep the search commands from matching their own command lines.
    const value = `${canary.slice(0, -1)}[${canary.slice(-1)}]`;
    const found = await sh(
      [
        `cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -e 'REINS_TEST_CANAR[Y]' -e '${value}'`,
        `find / -xdev -type f 2>/dev/null | xargs grep -l '${value}' 2>/dev/null | wc -l`,
      ].join("; "),
    );
    expect(found).toContain("0\n0\n");
    expect(found).not.toContain(canary);
  });

  it("has no network: only loopback, and the host's loopback services are out of reach", async () => {
    const out = await sh(
      `ls /sys/class/net; wget -q -T 2 -O - http://127.0.0.1:${hostPort}/ 2>&1; echo "wget exit $?"; cat /proc/net/route | wc -l`,
    );
    expect(out).toMatch(/^lo\n/);
    expect(out).not.toContain("host service");
    expect(out).toMatch(/wget exit [1-9]/);
    expect(out).toMatch(/\n1\n$/); // the header line only: no routes
  });

  it("cannot write outside /tmp (and the workspace, for tools that have one)", async () => {
    const out = await sh(
      "for d in / /etc /bin /usr /var /root /workspace; do touch $d/x 2>/dev/null && echo wrote $d; done; touch /tmp/x && echo ok",
    );
    expect(out).toBe("ok\n");
  });

  it("sees no host processes and no Docker socket", async () => {
    const out = await sh(
      "n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo procs $n; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /var/run/docker.sock /run/docker.sock /run/reins-docker.sock 2>&1 | grep -c 'No such file'",
    );
    const [procs, pid1, missing] = out.trim().split("\n");
    expect(Number(procs?.split(" ")[1])).toBeLessThan(6);
    expect(pid1).toMatch(/^\/bin\/sh -c IFS= read -r s/);
    expect(missing).toBe("3");
  });

  it("cannot mount, gain capabilities or enter new namespaces", async () => {
    const out = await sh(
      "mkdir /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted; unshare -r id 2>/dev/null && echo unshared; grep -e CapEff -e NoNewPrivs /proc/self/status",
    );
    expect(out).toBe(`CapEff:\t0000000000000000\n${noNewPrivsLine}`);
  });

  it("creates its containers on this runtime with every hardening option", async () => {
    await t.executor.ready();
    const listed = await t.docker.listContainers({ filters: { label: [t.label], status: ["running"] } });
    // Containers of earlier calls may vanish between the listing and the look: the warm ones stay.
    const inspected = await Promise.all(
      listed.map((c) =>
        t.docker
          .getContainer(c.Id)
          .inspect()
          .catch(() => undefined),
      ),
    );
    const containers = inspected.filter((c) => c !== undefined);
    expect(containers.length).toBeGreaterThan(0);
    for (const { Config, HostConfig } of containers) {
      expect({ user: Config.User, env: Config.Env?.filter((e) => !e.startsWith("PATH=")) }).toEqual({
        user: "1000:1000",
        env: [],
      });
      expect(HostConfig).toMatchObject({
        Runtime: runtime,
        NetworkMode: "none",
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
        Binds: [],
      });
    }
  });

  it("keeps a disk-filling loop inside the tmpfs limit", async () => {
    const out = await sh(
      "i=0; while dd if=/dev/zero of=/tmp/fill$i bs=1M count=4 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; done; du -sk /tmp | cut -f1",
    );
    expect(Number(out.trim())).toBeLessThanOrEqual(8 * 1024);
    // The next call starts clean: nothing was left on the host or in a shared place.
    expect(await sh("ls /tmp | wc -l")).toBe("0\n");
  });
});
