// The isolation tiers side by side: the same tool, image, limits and hardening under runc (the
// engine's default) and under runsc (gVisor), measured in one run with the samples interleaved,
// so a busy machine slows both alike. Used by executor.bench.ts.
//
//   container start   create + start of a hardened container, until the engine says it runs
//   call, cold        Execute with no warm pool: the container start is on the call's path
//   call, warm        Execute with the pool full: what a call costs once the tier is warm

import { randomBytes } from "node:crypto";
import { createExecutor, parseCatalog } from "@reins/executor-core";
import { listLabelledContainers, removeLabelledContainers } from "@reins/testkit";
import type Docker from "dockerode";

export interface TierLimits {
  readonly memory: number;
  readonly pids: number;
  readonly cpus: number;
}

export interface TierRow {
  readonly figure: string;
  /** Sorted samples in ms, per runtime. */
  readonly runc: number[];
  readonly runsc: number[];
}

const runtimes = ["runc", "runsc"] as const;
type Runtime = (typeof runtimes)[number];

export interface TierFigures {
  readonly rows: TierRow[];
  /** Containers of these measurements still there after everything closed (must be 0). */
  readonly leaked: number;
}

/** Undefined when the engine has no runsc runtime (scripts/ensure-docker.sh registers it). */
export async function measureRuntimeTiers(
  docker: Docker,
  image: string,
  limits: TierLimits,
  samples = { start: 15, cold: 15, warm: 20 },
): Promise<TierFigures | undefined> {
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  if (!info.Runtimes?.runsc) return undefined;
  const runId = randomBytes(4).toString("hex");
  const startLabel = `reins.bench.tier=${runId}`;
  const catalogFor = (runtime: Runtime, poolSize: number) =>
    parseCatalog(
      JSON.stringify({
        pool: { size: poolSize },
        tools: [
          {
            name: "bash",
            description: "Run a bash command.",
            image,
            memory: limits.memory,
            pids: limits.pids,
            cpus: limits.cpus,
            timeout: 30,
            workspace: "none",
            runtime,
            input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
            command: { argv: ["bash", "-c", "{{command}}"] },
          },
        ],
      }),
      `bench catalog (${runtime})`,
    );
  const executors = runtimes.flatMap((runtime) =>
    (["cold", "warm"] as const).map((kind) => ({
      runtime,
      kind,
      executor: createExecutor({
        docker,
        catalog: catalogFor(runtime, kind === "warm" ? 2 : 0),
        daemonId: `bench-tier-${runtime}-${kind}-${runId}`,
      }),
    })),
  );
  const executorOf = (runtime: Runtime, kind: "cold" | "warm") =>
    executors.find((e) => e.runtime === runtime && e.kind === kind)?.executor as ReturnType<typeof createExecutor>;

  async function startOnce(runtime: Runtime): Promise<number> {
    const t0 = performance.now();
    const container = await docker.createContainer({
      Image: image,
      Cmd: ["sh", "-c", "exec sleep 30"],
      User: "1000:1000",
      Env: [],
      Labels: { "reins.bench.tier": runId },
      HostConfig: {
        Runtime: runtime,
        NetworkMode: "none",
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,nosuid,nodev,size=67108864" },
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        PidsLimit: limits.pids,
        Memory: limits.memory,
        MemorySwap: limits.memory,
        NanoCpus: limits.cpus * 1e9,
        LogConfig: { Type: "none", Config: {} },
      },
    });
    await container.start();
    const took = performance.now() - t0;
    await container.remove({ force: true });
    return took;
  }

  async function callOnce(runtime: Runtime, kind: "cold" | "warm"): Promise<number> {
    const executor = executorOf(runtime, kind);
    if (kind === "warm") await executor.ready();
    const t0 = performance.now();
    const res = await executor.execute({ name: "bash", inputJson: JSON.stringify({ command: "echo hi" }) });
    const took = performance.now() - t0;
    if (res.output !== "hi\n") throw new Error(`unexpected ${runtime} output ${JSON.stringify(res.output)}`);
    if (kind === "warm" && !res.warm) throw new Error(`a ${runtime} call expected a warm container`);
    return took;
  }

  const interleaved = async (n: number, one: (runtime: Runtime) => Promise<number>) => {
    const out: Record<Runtime, number[]> = { runc: [], runsc: [] };
    for (let i = 0; i < n; i++) {
      // Alternate which runtime goes first, so neither always follows the other's teardown.
      for (const runtime of i % 2 === 0 ? runtimes : [...runtimes].reverse()) out[runtime].push(await one(runtime));
    }
    return { runc: out.runc.sort((a, b) => a - b), runsc: out.runsc.sort((a, b) => a - b) };
  };

  const closeAll = async () => {
    await Promise.all(executors.map(({ executor }) => executor.close()));
    await removeLabelledContainers(docker, startLabel);
  };
  let rows: TierRow[];
  try {
    for (const { executor } of executors) await executor.start();
    // One untimed round of each: images and the runtime's binaries into the page cache.
    for (const runtime of runtimes) {
      await startOnce(runtime);
      await callOnce(runtime, "cold");
      await callOnce(runtime, "warm");
    }
    rows = [
      { figure: "container start", ...(await interleaved(samples.start, startOnce)) },
      { figure: "call, cold (no pool)", ...(await interleaved(samples.cold, (r) => callOnce(r, "cold"))) },
      { figure: "call, warm pool", ...(await interleaved(samples.warm, (r) => callOnce(r, "warm"))) },
    ];
  } finally {
    await closeAll();
  }
  let leaked = (await listLabelledContainers(docker, startLabel)).length;
  for (const { executor } of executors) leaked += (await listLabelledContainers(docker, executor.label)).length;
  return { rows, leaked };
}
