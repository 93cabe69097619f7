// Executor benchmark: Execute(bash, "echo hi") over gRPC with the warm pool, against two
// baselines measured in the same run on the same engine, image and hardening:
//
//   naive       per call: create, attach, start, wait, remove through dockerode
//   docker run  per call: `docker run --rm ...` from the CLI
//
// Figures: latency p50/p95 of single calls (each started when the pool is full, as after a
// model turn), sustained calls/s at concurrency 1, 4 and 16 (pool vs naive), the isolation
// tiers side by side (runc and runsc: container start, a cold and a warm call, p50/p95; see
// runtime-tiers.ts), and containers left behind after everything is closed (must be 0).
//
//   pnpm bench executor    (or: cd bench && node --conditions=@reins/source --import tsx src/executor.bench.ts)
//
// Needs a Docker engine (scripts/ensure-docker.sh) with reins/sandbox-tiny
// (scripts/build-images.sh --tiny-only), or the image REINS_SANDBOX_IMAGE names. The executor's gRPC server runs in this process.

import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createExecutor, createExecutorServiceImpl, parseCatalog } from "@reins/executor-core";
import { testImage } from "@reins/launch";
import { ExecutorService } from "@reins/proto";
import {
  bindService,
  createAuthInterceptor,
  createBearerInterceptor,
  createTokenVerifier,
  startServer,
} from "@reins/service-kit";
import { connectDocker, listLabelledContainers, removeLabelledContainers, resolveDockerHost } from "@reins/testkit";
import type Docker from "dockerode";
import { execa } from "execa";
import { measureRuntimeTiers } from "./runtime-tiers.js";

const image = testImage();
const runId = randomBytes(4).toString("hex");
const daemonId = `bench-${runId}`;
const naiveLabel = `reins.bench.naive=${runId}`;
const limits = { memory: 64 * 1024 * 1024, pids: 64, cpus: 1 };

const docker = connectDocker();
try {
  await docker.getImage(image).inspect();
} catch {
  console.error(`${image} is missing: run scripts/ensure-docker.sh and scripts/build-images.sh --tiny-only`);
  process.exit(2);
}

const catalog = parseCatalog(
  JSON.stringify({
    pool: { size: 4 },
    tools: [
      {
        name: "bash",
        description: "Run a bash command.",
        image,
        memory: limits.memory,
        pids: limits.pids,
        cpus: limits.cpus,
        timeout: 30,
        input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
        command: { argv: ["bash", "-c", "{{command}}"] },
      },
    ],
  }),
  "bench catalog",
);
const executor = createExecutor({ docker, catalog, daemonId, maxConcurrent: 16, maxQueued: 1024, parallelStarts: 4 });
await executor.start();
const token = randomBytes(16).toString("hex");
const server = await startServer({
  services: [bindService(ExecutorService, createExecutorServiceImpl(executor))],
  interceptors: [
    createAuthInterceptor({
      verify: createTokenVerifier([{ token, role: "harness", tenant: "" }]),
      roles: ["harness"],
    }),
  ],
});
const client = createClient(
  ExecutorService,
  createGrpcTransport({
    baseUrl: server.url,
    interceptors: [createBearerInterceptor(token)],
  }),
);

const input = JSON.stringify({ command: "echo hi" });
let warmHits = 0;
async function viaExecutor(): Promise<void> {
  const res = await client.execute({ name: "bash", inputJson: input });
  if (res.output !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(res.output)}`);
  if (res.warm) warmHits++;
}

// The same hardening as the executor's containers, without the stdin runner.
function naiveOptions(): Docker.ContainerCreateOptions {
  return {
    Image: image,
    Cmd: ["bash", "-c", "echo hi"],
    User: "1000:1000",
    Env: [],
    AttachStdout: true,
    AttachStderr: true,
    Labels: { "reins.bench.naive": runId },
    HostConfig: {
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
  };
}

async function naive(): Promise<void> {
  const container = await docker.createContainer(naiveOptions());
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const chunks: Buffer[] = [];
    stream.on("data", (d: Buffer) => chunks.push(d));
    const ended = new Promise((resolve) => stream.on("end", resolve));
    await container.start();
    await container.wait();
    await ended;
    // 8-byte multiplexing header, then the payload.
    if (Buffer.concat(chunks).subarray(8).toString() !== "hi\n") throw new Error("unexpected naive output");
  } finally {
    await container.remove({ force: true });
  }
}

const dockerEnv = { ...process.env, DOCKER_HOST: resolveDockerHost() };
async function dockerRun(): Promise<void> {
  const { stdout } = await execa(
    "docker",
    [
      "run",
      "--rm",
      "--network=none",
      "--read-only",
      "--tmpfs=/tmp:rw,nosuid,nodev,size=67108864",
      "--cap-drop=ALL",
      "--security-opt=no-new-privileges",
      "--user=1000:1000",
      `--pids-limit=${limits.pids}`,
      `--memory=${limits.memory}`,
      `--memory-swap=${limits.memory}`,
      `--cpus=${limits.cpus}`,
      "--log-driver=none",
      image,
      "bash",
      "-c",
      "echo hi",
    ],
    { env: dockerEnv },
  );
  if (stdout !== "hi") throw new Error(`unexpected docker run output ${JSON.stringify(stdout)}`);
}

async function latencies(n: number, run: () => Promise<void>, before?: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    await before?.();
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  return samples.sort((a, b) => a - b);
}

async function sustained(concurrency: number, seconds: number, run: () => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await run();
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const ms = (v: number) => `${v.toFixed(1)} ms`;

try {
  for (let i = 0; i < 3; i++) {
    await executor.ready();
    await viaExecutor();
    await naive();
  }
  warmHits = 0;
  console.log("measuring latency (pool full before each call) ...");
  const pool = await latencies(40, viaExecutor, () => executor.ready());
  const poolWarm = warmHits;
  const naiveLat = await latencies(20, naive);
  const runLat = await latencies(12, dockerRun);

  console.log("measuring sustained throughput ...");
  const rates: Array<[number, number, number]> = [];
  for (const c of [1, 4, 16]) {
    await executor.ready();
    const poolRate = await sustained(c, 6, viaExecutor);
    const naiveRate = await sustained(c, 6, naive);
    rates.push([c, poolRate, naiveRate]);
  }

  await server.close();
  await executor.close();
  console.log("measuring the isolation tiers (runc, runsc) ...");
  const tiers = await measureRuntimeTiers(docker, image, limits);
  const leaked =
    (await listLabelledContainers(docker, executor.label)).length +
    (await listLabelledContainers(docker, naiveLabel)).length +
    (tiers?.leaked ?? 0);

  const p50 = pct(pool, 50);
  console.log(`\nExecute(bash, "echo hi"), image ${image}, ${pool.length}/${naiveLat.length}/${runLat.length} samples`);
  console.log("                        p50         p95");
  console.log(`  executor, warm pool  ${ms(p50).padEnd(11)} ${ms(pct(pool, 95))}   (${poolWarm}/${pool.length} warm)`);
  console.log(`  naive dockerode      ${ms(pct(naiveLat, 50)).padEnd(11)} ${ms(pct(naiveLat, 95))}`);
  console.log(`  docker run --rm      ${ms(pct(runLat, 50)).padEnd(11)} ${ms(pct(runLat, 95))}`);
  const vsNaive = pct(naiveLat, 50) / p50;
  const vsRun = pct(runLat, 50) / p50;
  console.log(
    `  pool is ${vsNaive.toFixed(1)}x faster than naive (target >= 3x), ${vsRun.toFixed(1)}x faster than docker run (target >= 6x), p50 target <= 40 ms`,
  );
  console.log("\nsustained calls/s        executor     naive");
  for (const [c, poolRate, naiveRate] of rates) {
    console.log(`  concurrency ${String(c).padEnd(11)} ${poolRate.toFixed(1).padEnd(12)} ${naiveRate.toFixed(1)}`);
  }
  if (tiers) {
    console.log('\nisolation tiers, in-process Execute(bash, "echo hi"), same image, limits and hardening');
    console.log("                          runc p50    p95         runsc p50   p95         runsc/runc p50");
    for (const row of tiers.rows) {
      const [a, b] = [pct(row.runc, 50), pct(row.runsc, 50)];
      console.log(
        `  ${row.figure.padEnd(23)} ${ms(a).padEnd(11)} ${ms(pct(row.runc, 95)).padEnd(11)} ${ms(b).padEnd(11)} ${ms(pct(row.runsc, 95)).padEnd(11)} ${(b / a).toFixed(2)}x   (${row.runc.length}+${row.runsc.length} samples)`,
      );
    }
  } else {
    console.log("\nisolation tiers: skipped, the engine has no runsc runtime (scripts/ensure-docker.sh registers it)");
  }
  console.log(`\ncontainers left after the run: ${leaked} (must be 0)`);
  const ok = leaked === 0 && p50 <= 40 && vsNaive >= 3 && vsRun >= 6;
  console.log(ok ? "targets met" : "targets NOT met");
  process.exitCode = leaked === 0 ? 0 : 1;
} finally {
  await server.close();
  await executor.close();
  await removeLabelledContainers(docker, naiveLabel);
}
