import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService, grpcHealthV1 } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import {
  connectDocker,
  createTestCertificates,
  dockerCleanup,
  listLabelledContainers,
  resolveDockerHost,
  startDaemon,
  testImage,
} from "@reins/testkit";
import { describe, expect, it } from "vitest";

const docker = connectDocker();

/** A daemon on the tiny image with its own id, token and Docker label; disposed with everything it made. */
async function startExecutor(env: Record<string, string> = {}) {
  const id = `daemon-test-${randomBytes(4).toString("hex")}`;
  const token = randomBytes(16).toString("hex");
  const label = `reins.executor=${id}`;
  const cleanup = dockerCleanup(docker, label);
  const daemon = await startDaemon({
    app: "executor",
    env: {
      REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
      REINS_EXECUTOR_TOKEN: token,
      REINS_EXECUTOR_ID: id,
      REINS_SANDBOX_IMAGE: testImage(),
      DOCKER_HOST: resolveDockerHost(),
      ...env,
    },
  });
  const client = (options: { token?: string; nodeOptions?: object } = {}) =>
    createClient(
      ExecutorService,
      createGrpcTransport({
        baseUrl: daemon.url,
        ...(options.nodeOptions ? { nodeOptions: options.nodeOptions } : {}),
        interceptors: [createBearerInterceptor(options.token ?? token)],
      }),
    );
  return {
    id,
    token,
    label,
    daemon,
    client,
    async [Symbol.asyncDispose]() {
      await daemon.kill("SIGTERM");
      await cleanup[Symbol.asyncDispose]();
    },
  };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: unknown) => ConnectError.from(e).code,
  );

describe("executor daemon", () => {
  it("demands the bearer token on every RPC but leaves health public", async () => {
    await using x = await startExecutor();
    const anonymous = createClient(ExecutorService, createGrpcTransport({ baseUrl: x.daemon.url }));
    expect(await codeOf(anonymous.listTools({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(anonymous.execute({ name: "bash" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(anonymous.deleteWorkspace({ sessionId: "s" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(x.client({ token: "wrong" }).listTools({}))).toBe(Code.Unauthenticated);
    const tools = await x.client().listTools({});
    expect(tools.tools.map((t) => t.name)).toEqual(["bash", "python", "read_file", "write_file", "list_files"]);
    expect(JSON.parse(tools.tools[0]?.inputSchemaJson ?? "{}")).toMatchObject({ required: ["command"] });
    const health = createClient(grpcHealthV1.Health, createGrpcTransport({ baseUrl: x.daemon.url }));
    expect((await health.check({ service: "reins.executor.v1.ExecutorService" })).status).toBe(
      grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING,
    );
    expect(x.daemon.output.join("\n")).not.toContain(x.token);
  });

  it("reads the token from a file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-exec-token-"));
    try {
      await writeFile(path.join(dir, "token"), "from-a-file-0123456789\n");
      await using x = await startExecutor({
        REINS_EXECUTOR_TOKEN: "",
        REINS_EXECUTOR_TOKEN_FILE: path.join(dir, "token"),
      });
      expect((await x.client({ token: "from-a-file-0123456789" }).listTools({})).tools).toHaveLength(5);
      expect(await codeOf(x.client().listTools({}))).toBe(Code.Unauthenticated);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs tools over gRPC, answers caller mistakes with codes, and keeps a canary in its env out of every tool", async () => {
    const canary = `canary-${randomBytes(12).toString("hex")}`;
    await using x = await startExecutor({ REINS_TEST_CANARY: canary, REINS_EXECUTOR_MAX_REQUEST_BYTES: "65536" });
    const exec = x.client();
    const sessionId = `s-${randomBytes(4).toString("hex")}`;
    const value = `${canary.slice(0, -1)}[${canary.slice(-1)}]`;
    const res = await exec.execute({
      name: "bash",
      sessionId,
      callId: "toolu_01",
      inputJson: JSON.stringify({
        command: `env; cat /proc/[0-9]*/environ | tr '\\0' '\\n' | grep -c -e CANAR[Y] -e '${value}'; find / -xdev -type f 2>/dev/null | xargs grep -l '${value}' 2>/dev/null | wc -l`,
      }),
    });
    expect(res.isError).toBe(false);
    expect(res.output).not.toContain(canary);
    expect(res.output).not.toContain("CANARY");
    expect(res.stdout).toMatch(/\n0\n0\n$/);
    expect(res.duration?.nanos).toBeGreaterThan(0);

    const model = await exec.execute({ name: "nope", sessionId, inputJson: "{}" });
    expect(model).toMatchObject({ isError: true, exitCode: -1 });
    expect(await codeOf(exec.execute({ name: "bash", sessionId, inputJson: "{oops" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(exec.execute({ name: "bash", sessionId: "a.b", inputJson: "{}" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(exec.execute({ name: "bash", inputJson: '{"command":"true"}' }))).toBe(Code.InvalidArgument);
    const huge = JSON.stringify({ command: "x".repeat(100_000) });
    expect(await codeOf(exec.execute({ name: "bash", sessionId, inputJson: huge }))).toBe(Code.ResourceExhausted);
    expect((await exec.deleteWorkspace({ sessionId })).existed).toBe(true);
    expect(x.daemon.output.join("\n")).not.toContain(canary);
  });

  it("kills and removes the container when the client's deadline passes", async () => {
    await using x = await startExecutor({ REINS_EXECUTOR_POOL_SIZE: "0" });
    const sessionId = `s-${randomBytes(4).toString("hex")}`;
    const call = codeOf(
      x
        .client()
        .execute({ name: "bash", sessionId, inputJson: JSON.stringify({ command: "sleep 60" }) }, { timeoutMs: 3_000 }),
    );
    // The call's container is the first of this session (the session's next warm one comes after).
    let used: string | undefined;
    while (!used) {
      used = (await docker.listContainers({ filters: { label: [`reins.executor.session=${sessionId}`] } }))[0]?.Id;
    }
    expect(await call).toBe(Code.DeadlineExceeded);
    const deadline = Date.now() + 15_000;
    while ((await listLabelledContainers(docker, x.label)).includes(used)) {
      if (Date.now() > deadline) throw new Error(`container ${used} of the cancelled call still exists`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it("drains on SIGTERM: the running call is answered, then every container is gone and it exits 0", async () => {
    const x = await startExecutor({ REINS_EXECUTOR_SHUTDOWN_GRACE_MS: "500" });
    try {
      const sessionId = `s-${randomBytes(4).toString("hex")}`;
      const call = x.client().execute({ name: "bash", sessionId, inputJson: JSON.stringify({ command: "sleep 60" }) });
      while (
        (await docker.listContainers({ filters: { label: [`reins.executor.session=${sessionId}`] } })).length === 0
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      x.daemon.signal("SIGTERM");
      const res = await call;
      expect(res.isError).toBe(true);
      expect(res.output).toContain("cancelled");
      const exit = (await x.daemon.exited) as { exitCode?: number };
      expect(exit.exitCode).toBe(0);
      expect(await listLabelledContainers(docker, x.label)).toEqual([]);
    } finally {
      await x[Symbol.asyncDispose]();
    }
  });

  it("after a crash, the next life with the same id removes what the last one left", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-exec-catalog-"));
    try {
      // A tool without a workspace, so the pool pre-starts containers right away.
      const catalog = path.join(dir, "tools.yaml");
      await writeFile(
        catalog,
        "tools:\n  - {name: sh, description: d, input_schema: {type: object}, command: {argv: [sh, -c, 'true']}}\n",
      );
      await using first = await startExecutor({ REINS_TOOLS_CONFIG: catalog, REINS_EXECUTOR_POOL_SIZE: "2" });
      while ((await listLabelledContainers(docker, first.label)).length < 2)
        await new Promise((r) => setTimeout(r, 50));
      const left = await listLabelledContainers(docker, first.label);
      await first.daemon.kill("SIGKILL");
      await using second = await startExecutor({ REINS_TOOLS_CONFIG: catalog, REINS_EXECUTOR_ID: first.id });
      expect(second.id).not.toBe(first.id); // the helper's own id; the daemon got first.id
      const now = await listLabelledContainers(docker, first.label);
      expect(now.filter((id) => left.includes(id))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("serves over TLS when given a certificate", async () => {
    await using certs = await createTestCertificates();
    await using x = await startExecutor({
      REINS_EXECUTOR_TLS_CERT: certs.serverCertPath,
      REINS_EXECUTOR_TLS_KEY: certs.serverKeyPath,
    });
    expect(x.daemon.url).toMatch(/^https:/);
    expect((await x.client({ nodeOptions: { ca: certs.ca } }).listTools({})).tools).toHaveLength(5);
  });

  it("runs a tool under gVisor when its catalog entry says runtime: runsc, and lists each tool's runtime", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-exec-catalog-"));
    try {
      const catalog = path.join(dir, "tools.yaml");
      const tool = (name: string, extra: string) =>
        `  - {name: ${name}, description: d, input_schema: {type: object}, command: {argv: [sh, -c, 'dmesg 2>&1 | head -n 1']}${extra}}\n`;
      await writeFile(catalog, `tools:\n${tool("plain", "")}${tool("gvisor", ", runtime: runsc")}`);
      await using x = await startExecutor({ REINS_TOOLS_CONFIG: catalog, REINS_EXECUTOR_POOL_SIZE: "0" });
      const tools = await x.client().listTools({});
      expect(tools.tools.map((t) => [t.name, t.runtime])).toEqual([
        ["plain", "runc"],
        ["gvisor", "runsc"],
      ]);
      expect((await x.client().execute({ name: "gvisor", inputJson: "{}" })).output).toContain("Starting gVisor");
      expect((await x.client().execute({ name: "plain", inputJson: "{}" })).output).not.toContain("gVisor");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start with a tool whose runtime the engine lacks, naming the tool and the runtime", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-exec-catalog-"));
    try {
      const catalog = path.join(dir, "tools.yaml");
      await writeFile(
        catalog,
        "tools:\n  - {name: vm, description: d, input_schema: {type: object}, command: {argv: [sh]}, runtime: kata}\n",
      );
      await expect(startExecutor({ REINS_TOOLS_CONFIG: catalog })).rejects.toThrow(
        /invalid configuration: tool vm: runtime \\"kata\\" is not registered with the Docker engine/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start with a broken catalog and says why", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-exec-catalog-"));
    try {
      await writeFile(path.join(dir, "tools.yaml"), "tools:\n  - name: x\n    description: d\n");
      await expect(startExecutor({ REINS_TOOLS_CONFIG: path.join(dir, "tools.yaml") })).rejects.toThrow(
        /tools\.yaml is invalid:\\ncatalog.tools\[0\].input_schema: is required/,
      );
      await expect(startExecutor({ REINS_EXECUTOR_TOKEN: "" })).rejects.toThrow(/REINS_EXECUTOR_TOKEN .* is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
