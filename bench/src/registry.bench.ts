// Executor registry benchmark: what registering costs and how fast a stopped host
// leaves placement, against baselines measured in the same run on the same daemon.
//
//   heartbeat    Heartbeat RPCs of a registered executor (a compare-and-set write in
//                the REINS_EXECUTORS bucket) against grpc.health.v1 Check on the same
//                connection (the floor of an RPC to that daemon), alternating in rounds
//   leaving      a real executor process: from SIGTERM until ListExecutors no longer
//                has it (it deregisters), against SIGKILL (it stays until the TTL)
//
//   pnpm bench registry
//   (or: cd bench && node --conditions=@reins/source --import tsx src/registry.bench.ts)
//
// Needs the built session and executor daemons (`pnpm turbo run build`) and a Docker
// engine (scripts/ensure-docker.sh): the executor checks its runtimes there at start.

import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorInfoSchema, ExecutorRegistryService, grpcHealthV1 } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import { resolveDockerHost, startDaemon, startNatsServer, testImage } from "@reins/testkit";

const ttlMs = 2_000;
const rounds = 20;
const perRound = 25;
const leavingRuns = 3;
const ids = Array.from({ length: 1 + 2 * leavingRuns }, (_, i) => `bench-reg-${i}-${randomBytes(3).toString("hex")}`);
const tokens = new Map(ids.map((id) => [id, `register-${id}-${randomBytes(12).toString("hex")}`]));
const operatorToken = `operator-${randomBytes(12).toString("hex")}`;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;

await using nats = await startNatsServer();
await using session = await startDaemon({
  app: "session",
  env: {
    REINS_SESSION_LISTEN: "127.0.0.1:0",
    REINS_NATS_URL: nats.url,
    REINS_SESSION_TOKENS: JSON.stringify([{ token: operatorToken, role: "operator" }]),
    REINS_EXECUTOR_REGISTRATION_TOKENS: JSON.stringify(ids.map((id) => ({ executor: id, token: tokens.get(id) }))),
    REINS_EXECUTOR_TTL_MS: String(ttlMs),
  },
});
const operator = createClient(
  ExecutorRegistryService,
  createGrpcTransport({ baseUrl: session.url, interceptors: [createBearerInterceptor(operatorToken)] }),
);

// Heartbeats against health checks, on one connection that carries both.
{
  const [id] = ids as [string];
  const transport = createGrpcTransport({
    baseUrl: session.url,
    interceptors: [createBearerInterceptor(tokens.get(id))],
  });
  const registry = createClient(ExecutorRegistryService, transport);
  const health = createClient(grpcHealthV1.Health, transport);
  const executor = create(ExecutorInfoSchema, {
    id,
    address: "http://127.0.0.1:7003",
    incarnation: "bench",
    tools: ["bash", "python"],
    runtimes: ["runc"],
    capacity: 8,
  });
  const heartbeats: number[] = [];
  const checks: number[] = [];
  for (let i = 0; i < 50; i++) {
    await registry.heartbeat({ executor });
    await health.check({});
  }
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) {
      executor.runningCalls = i % 8;
      const t0 = performance.now();
      await registry.heartbeat({ executor });
      heartbeats.push(performance.now() - t0);
    }
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      await health.check({});
      checks.push(performance.now() - t0);
    }
  }
  await registry.deregister({ id, incarnation: "bench" });
  const h50 = percentile(heartbeats, 50);
  const c50 = percentile(checks, 50);
  console.log(`heartbeat       p50 ${ms(h50)}  p95 ${ms(percentile(heartbeats, 95))}  (${heartbeats.length} calls)`);
  console.log(
    `health check    p50 ${ms(c50)}  p95 ${ms(percentile(checks, 95))}  (baseline: an RPC to the same daemon)`,
  );
  console.log(`heartbeat / health check p50: ${(h50 / c50).toFixed(1)}x`);
}

// From the signal until the list no longer has it.
async function leaving(id: string, signal: "SIGTERM" | "SIGKILL"): Promise<number> {
  const executor = await startDaemon({
    app: "executor",
    env: {
      REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
      REINS_EXECUTOR_TOKEN: randomBytes(16).toString("hex"),
      REINS_EXECUTOR_ID: id,
      REINS_EXECUTOR_REGISTRY_URL: session.url,
      REINS_EXECUTOR_REGISTRATION_TOKEN: tokens.get(id),
      REINS_EXECUTOR_POOL_SIZE: "0",
      REINS_SANDBOX_IMAGE: testImage(),
      DOCKER_HOST: resolveDockerHost(),
    },
  });
  const t0 = performance.now();
  const exited = executor.kill(signal);
  for (;;) {
    const { executors } = await operator.listExecutors({});
    if (!executors.some((e) => e.id === id)) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const elapsed = performance.now() - t0;
  await exited;
  return elapsed;
}

{
  const term: number[] = [];
  const kill: number[] = [];
  for (let run = 0; run < leavingRuns; run++) {
    term.push(await leaving(ids[1 + 2 * run] as string, "SIGTERM"));
    kill.push(await leaving(ids[2 + 2 * run] as string, "SIGKILL"));
  }
  const t = percentile(term, 50);
  const k = percentile(kill, 50);
  console.log(`leaves the list after SIGTERM  median ${ms(t)}  (${term.map((x) => x.toFixed(0)).join(", ")} ms)`);
  console.log(
    `leaves the list after SIGKILL  median ${ms(k)}  (${kill.map((x) => x.toFixed(0)).join(", ")} ms; TTL ${ttlMs} ms)`,
  );
  console.log(`SIGTERM / SIGKILL: ${(t / k).toFixed(3)}x`);
}
