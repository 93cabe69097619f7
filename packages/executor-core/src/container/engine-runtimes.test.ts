import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../catalog/index.js";
import { CatalogError } from "../errors.js";
import { startTestExecutor, type TestExecutor, tinyImage } from "../testing/test-executor.js";
import { checkCatalogRuntimes } from "./engine-runtimes.js";

/** Two tools alike in everything but the runtime, so a warm container of one could serve the other. */
function tieredCatalog(runtimes: Record<string, string | undefined>) {
  const tools = Object.entries(runtimes).map(([name, runtime]) => ({
    name,
    description: `Runs a command${runtime ? ` under ${runtime}` : ""}.`,
    input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
    command: { argv: ["sh", "-c", "{{command}}"] },
    ...(runtime ? { runtime } : {}),
  }));
  return parseCatalog(
    JSON.stringify({ defaults: { image: tinyImage, timeout: 20, memory: "64m", pids: 64 }, pool: { size: 1 }, tools }),
    "tiered catalog",
  );
}

// gVisor answers system calls with a kernel of its own: dmesg shows its boot lines and
// /proc/version is not the host's. Under runc dmesg is refused (or is the host's log) and the
// kernel is the host's, so this check passes only inside gVisor.
const kernelProbe = "dmesg 2>&1 | head -n 1; echo; cat /proc/version";
function kernelOf(output: string) {
  const [dmesg = "", version = ""] = output.split("\n\n");
  return { gvisorBoot: dmesg.includes("Starting gVisor"), version: version.trim() };
}

describe("isolation tiers", () => {
  let t: TestExecutor;
  let hostKernel: string;

  beforeAll(async () => {
    hostKernel = (await readFile("/proc/version", "utf8")).trim();
    t = await startTestExecutor(tieredCatalog({ plain: undefined, gvisor: "runsc" }), { skipStart: true });
    const engine = await t.executor.checkRuntimes();
    expect(engine?.names, "scripts/ensure-docker.sh registers runsc with the engine").toContain("runsc");
    await t.executor.start();
    await t.executor.ready();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  it("runs a runsc tool under gVisor's kernel, and a runc tool under the host's", async () => {
    for (let call = 0; call < 2; call++) {
      const gvisor = await t.run("gvisor", { command: kernelProbe });
      expect(gvisor.isError).toBe(false);
      expect(kernelOf(gvisor.output)).toMatchObject({ gvisorBoot: true });
      expect(kernelOf(gvisor.output).version).not.toBe(hostKernel);

      const plain = await t.run("plain", { command: kernelProbe });
      expect(kernelOf(plain.output)).toEqual({ gvisorBoot: false, version: hostKernel });
      // Both were served warm: the pool keeps a container per runtime, never one for both.
      expect([gvisor.warm, plain.warm]).toEqual([true, true]);
      await t.executor.ready();
    }
  });

  it("says which runtime each tool runs under, the engine's default for tools that name none", () => {
    expect(t.executor.catalog.tools.map((tool) => [tool.name, t.executor.runtimeOf(tool)])).toEqual([
      ["plain", "runc"],
      ["gvisor", "runsc"],
    ]);
  });

  it("refuses a catalog whose tool names a runtime the engine lacks, naming both", async () => {
    await using other = await startTestExecutor(tieredCatalog({ plain: undefined, vm: "kata", also: "crun" }), {
      skipStart: true,
    });
    const refusal = other.executor.checkRuntimes();
    await expect(refusal).rejects.toBeInstanceOf(CatalogError);
    await expect(refusal).rejects.toThrow(
      /^tool vm: runtime "kata" is not registered with the Docker engine\ntool also: runtime "crun" is not registered with the Docker engine\n\(the engine has: [^)]*runc[^)]*\)/,
    );
  });
});

describe("checkCatalogRuntimes", () => {
  const engine = { names: ["runc", "runsc"], defaultRuntime: "runc" };

  it("accepts tools on registered runtimes and on the engine's default", () => {
    expect(() => checkCatalogRuntimes(tieredCatalog({ a: undefined, b: "runsc", c: "runc" }), engine)).not.toThrow();
  });

  it("lists every tool on a missing runtime", () => {
    expect(() =>
      checkCatalogRuntimes(tieredCatalog({ a: "runsc", b: "kata" }), { ...engine, names: ["runc"] }),
    ).toThrow(
      'tool a: runtime "runsc" is not registered with the Docker engine\ntool b: runtime "kata" is not registered with the Docker engine\n(the engine has: runc; ',
    );
  });
});
