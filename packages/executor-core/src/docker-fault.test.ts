import { listLabelledContainers, startDockerd } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { shCatalog, startTestExecutor, tinyImage } from "./testing/test-executor.js";

// A private dockerd owned by this test: stopping it never disturbs the shared engine.
describe("Docker faults", () => {
  it("answers with an error string while Docker is gone and serves again once it is back", async () => {
    await using dockerd = await startDockerd({ images: [tinyImage] });
    await using t = await startTestExecutor(shCatalog({ timeout: 30 }, { size: 0 }), { docker: dockerd.docker });

    const call = t.run("sh", { command: "echo started; sleep 20" });
    // Wait until the call's container runs, then pull the engine away under it.
    while ((await dockerd.docker.listContainers({ filters: { label: [t.label] } })).length === 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await dockerd.stop();
    const broken = await call;
    expect(broken.isError).toBe(true);
    // Depending on how far the engine got before it went away, the call saw its
    // container killed or lost the connection; either way the model is told. The
    // container is listed once created: on a busy machine the engine may go before
    // its shell printed anything.
    expect(broken.output).toMatch(
      /^(started\n)?\[(the sandbox was killed from outside .*Docker engine stopped|Docker is unavailable on the sandbox host.*)\]$/,
    );

    const down = await t.run("sh", { command: "echo hi" });
    expect(down.isError).toBe(true);
    expect(down.output).toMatch(/^Docker is unavailable on the sandbox host while starting a sandbox container/);

    await dockerd.start();
    const back = await t.run("sh", { command: "echo back" });
    expect(back).toMatchObject({ isError: false, stdout: "back\n" });

    // The container of the interrupted call was removed once the engine returned.
    await t.executor.close(1_000);
    expect(await listLabelledContainers(dockerd.docker, t.label)).toEqual([]);
  }, 180_000);

  it("refills the warm pool after the engine restarts", async () => {
    await using dockerd = await startDockerd({ images: [tinyImage] });
    await using t = await startTestExecutor(shCatalog({}, { size: 1 }), { docker: dockerd.docker });
    await t.executor.ready();
    expect(t.executor.stats().idle).toBe(1);
    await dockerd.restart();
    // The old warm container died with the engine; the pool notices and starts a new one.
    const deadline = Date.now() + 60_000;
    let warm = false;
    while (!warm && Date.now() < deadline) {
      await t.executor.ready();
      const r = await t.run("sh", { command: "echo ok" });
      expect(r.stdout).toBe("ok\n");
      warm = r.warm;
      if (!warm) await new Promise((r) => setTimeout(r, 200));
    }
    expect(warm).toBe(true);
  }, 180_000);
});
