import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { repoRoot } from "@reins/launch";
import { ExecutorInfoSchema, ExecutorRegistryService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import { type Daemon, type NatsServer, startDaemon, startNatsServer } from "@reins/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The built CLI against a real session daemon (which serves the executor
// registry) on a real nats-server. Executors are registered over the wire with
// their own registration tokens, so their load is what the test says it is.
const cli = `${repoRoot}apps/cli/dist/main.js`;
const operatorToken = `operator-${randomBytes(12).toString("hex")}`;
const harnessToken = `harness-${randomBytes(12).toString("hex")}`;
const hosts = {
  "host-eu": { token: `register-eu-${randomBytes(12).toString("hex")}`, port: 7103 },
  "host-us": { token: `register-us-${randomBytes(12).toString("hex")}`, port: 7203 },
};
let nats: NatsServer;
let daemon: Daemon;

// token null: no token at all.
function reins(args: string[], token: string | null = operatorToken) {
  return execa(process.execPath, [cli, "--session-url", daemon.url, "--no-color", ...args], {
    reject: false,
    extendEnv: false,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REINS_STATE_DIR: "/nonexistent",
      ...(token ? { REINS_TOKEN: token } : {}),
    },
    stdin: "ignore",
  });
}

const lines = (text: string) => text.trim().split("\n");
const json = (text: string) => lines(text).map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  nats = await startNatsServer();
  daemon = await startDaemon({
    app: "session",
    env: {
      REINS_SESSION_LISTEN: "127.0.0.1:0",
      REINS_NATS_URL: nats.url,
      REINS_SESSION_TOKENS: JSON.stringify([
        { token: operatorToken, role: "operator" },
        { token: harnessToken, role: "harness" },
      ]),
      REINS_EXECUTOR_REGISTRATION_TOKENS: JSON.stringify(
        Object.entries(hosts).map(([executor, { token }]) => ({ executor, token })),
      ),
      // One heartbeat keeps an entry for the whole test.
      REINS_EXECUTOR_TTL_MS: "600000",
    },
  });
  const heartbeat = (id: keyof typeof hosts, fields: MessageInitShape<typeof ExecutorInfoSchema>) =>
    createClient(
      ExecutorRegistryService,
      createGrpcTransport({ baseUrl: daemon.url, interceptors: [createBearerInterceptor(hosts[id].token)] }),
    ).heartbeat({
      executor: create(ExecutorInfoSchema, {
        id,
        address: `http://127.0.0.1:${hosts[id].port}`,
        incarnation: `inc-${id}`,
        tools: ["bash", "python"],
        runtimes: ["runc"],
        capacity: 4,
        ...fields,
      }),
    });
  await heartbeat("host-eu", {
    runningCalls: 2,
    queuedCalls: 1,
    runtimes: ["runc", "runsc"],
    labels: { region: "eu", gpu: "true" },
  });
  await heartbeat("host-us", { tools: ["bash"], labels: { region: "us" }, capacity: 8 });
});

afterAll(async () => {
  await daemon?.kill("SIGTERM");
  await nats?.stop();
});

describe("reins executors against a real registry", () => {
  it("lists executors with address, state, load, runtimes, labels and heartbeat age", async () => {
    const r = await reins(["executors"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [header, eu, us] = lines(r.stdout);
    expect(header).toMatch(/^ID\s+ADDRESS\s+STATE\s+CALLS\s+RUNTIMES\s+LABELS\s+HEARTBEAT$/);
    expect(eu).toMatch(
      /^host-eu\s+http:\/\/127\.0\.0\.1:7103\s+live\s+2\/1\/4\s+runc,runsc\s+gpu=true,region=eu\s+\d+\.\ds ago$/,
    );
    expect(us).toMatch(/^host-us\s+http:\/\/127\.0\.0\.1:7203\s+live\s+0\/0\/8\s+runc\s+region=us\s+\d+\.\ds ago$/);
  });

  it("prints NDJSON and filters by label and tool", async () => {
    const all = await reins(["executors", "--json"]);
    expect(all.exitCode, all.stderr).toBe(0);
    expect(json(all.stdout)).toEqual([
      expect.objectContaining({
        type: "executor",
        id: "host-eu",
        runningCalls: 2,
        labels: { region: "eu", gpu: "true" },
      }),
      expect.objectContaining({ type: "executor", id: "host-us", capacity: 8 }),
    ]);
    const eu = await reins(["executors", "--json", "--label", "region=eu"]);
    expect(json(eu.stdout).map((e) => e.id)).toEqual(["host-eu"]);
    const python = await reins(["executors", "--json", "--tool", "python"]);
    expect(json(python.stdout).map((e) => e.id)).toEqual(["host-eu"]);
    const none = await reins(["executors", "-l", "region=eu", "-l", "gpu=false"]);
    expect([none.exitCode, none.stdout, none.stderr.trim()]).toEqual([0, "", "no registered executor matches"]);
  });

  it("drains an executor and takes it back; the list shows it", async () => {
    const drain = await reins(["executors", "drain", "host-eu"]);
    expect(drain.exitCode, drain.stderr).toBe(0);
    expect(drain.stdout.trim()).toBe(
      "✔ host-eu draining: no new sessions are placed on it; the calls it runs finish (2 running, 1 queued)",
    );
    expect(lines((await reins(["executors"])).stdout)[1]).toMatch(/^host-eu\s+\S+\s+draining\s+2\/1\/4/);
    expect(json((await reins(["executors", "--json"])).stdout)[0]).toMatchObject({
      id: "host-eu",
      state: "draining",
      draining: true,
    });

    const undrain = await reins(["executors", "undrain", "host-eu"]);
    expect([undrain.exitCode, undrain.stdout.trim()]).toEqual([0, "✔ host-eu live: sessions are placed on it again"]);
    expect(lines((await reins(["executors"])).stdout)[1]).toMatch(/^host-eu\s+\S+\s+live\s+/);
  });

  it("shows the service's errors: unknown executor, wrong role, no token, bad id", async () => {
    const unknown = await reins(["executors", "drain", "host-nowhere"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('error: NOT_FOUND: executor "host-nowhere" is not registered');

    const harness = await reins(["executors", "drain", "host-us"], harnessToken);
    expect(harness.exitCode).toBe(1);
    expect(harness.stderr).toMatch(/^error: PERMISSION_DENIED: /);
    // A harness may list, for placement.
    expect((await reins(["executors", "--json"], harnessToken)).exitCode).toBe(0);

    const anonymous = await reins(["executors"], null);
    expect(anonymous.exitCode).toBe(1);
    expect(anonymous.stderr).toMatch(/^error: UNAUTHENTICATED: .*pass a token with --token or REINS_TOKEN/);

    const bad = await reins(["executors", "drain", "host.1"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("executor ids are 1-64 characters");
    // Still live: neither the harness nor the bad id drained anything.
    expect(json((await reins(["executors", "--json"])).stdout).map((e) => e.state)).toEqual(["live", "live"]);
  });
});
