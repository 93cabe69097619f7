import { Code, ConnectError } from "@connectrpc/connect";
import { listLabelledContainers, waitForNoContainers } from "@reins/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDockerClient, daemonLabel } from "./container/index.js";
import { shCatalog, startTestExecutor, tinyImage } from "./testing/test-executor.js";

/** Resolves once a container with the label is running (the call has reached Docker). */
async function runningContainer(t: { docker: import("dockerode"); label: string }): Promise<string> {
  for (;;) {
    const list = await t.docker.listContainers({ filters: { label: [t.label], status: ["running"] } });
    if (list[0]) return list[0].Id;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("executor: results", () => {
  it("demultiplexes stdout and stderr and reports exit codes in the string", async () => {
    await using t = await startTestExecutor(shCatalog());
    const ok = await t.run("sh", { command: "echo out; echo err >&2" });
    expect(ok).toMatchObject({ isError: false, exitCode: 0, stdout: "out\n", stderr: "err\n", timedOut: false });
    expect(ok.output).toBe("out\n[stderr]\nerr\n");
    const bad = await t.run("sh", { command: "echo partial; exit 3" });
    expect(bad).toMatchObject({ isError: true, exitCode: 3, stdout: "partial\n" });
    expect(bad.output).toBe("partial\n[exit code 3]");
    const missing = await t.run("sh", { command: "no-such-program" });
    expect(missing.isError).toBe(true);
    expect(missing.exitCode).toBe(127);
    expect(missing.output).toMatch(/not found[\s\S]*\[exit code 127\]/);
  });

  it("passes stdin through untouched, binary-safe beyond the script line", async () => {
    await using t = await startTestExecutor(shCatalog());
    const data = "line 1\nline 2 with 'quotes' and $(dollars)\n\u00e9\u{1f600}\n";
    const r = await t.run("stdin", { command: "cat > /tmp/in; cat /tmp/in; echo; wc -c < /tmp/in", data });
    expect(r.stdout).toBe(`${data}\n${Buffer.byteLength(data)}\n`);
  });

  it("uses a pre-started container when the pool has one, and answers from a cold one when not", async () => {
    await using t = await startTestExecutor(shCatalog({}, { size: 1 }));
    await t.executor.ready();
    const warm = await t.run("sh", { command: "echo a" });
    expect(warm.warm).toBe(true);
    const cold = await t.run("sh", { command: "echo b" });
    expect(cold.stdout).toBe("b\n");
    expect(t.executor.stats().hits + t.executor.stats().misses).toBe(2);
  });

  it("tells the model about unknown tools, schema-breaking input and oversized input", async () => {
    await using t = await startTestExecutor(shCatalog({ max_input_bytes: "1k" }, { size: 0 }));
    const unknown = await t.run("rm_rf", {});
    expect(unknown).toMatchObject({ isError: true, exitCode: -1 });
    expect(unknown.output).toBe('unknown tool "rm_rf"; available tools: sh, stdin');
    const schema = await t.run("sh", { command: 42, extra: true });
    expect(schema.isError).toBe(true);
    expect(schema.output).toContain("input does not match the schema of tool sh");
    expect(schema.output).toContain("input.command: must be string");
    expect(schema.output).toContain("input.extra: is not allowed here");
    const big = await t.run("sh", { command: `echo ${"x".repeat(2000)}` });
    expect(big.isError).toBe(true);
    expect(big.output).toMatch(/^input of 2 KiB refused: tool sh accepts at most 1 KiB$/);
    const nul = await t.run("sh", { command: "echo a\0b" });
    expect(nul.output).toMatch(/NUL byte/);
    // None of these reached Docker.
    expect(await listLabelledContainers(t.docker, t.label)).toEqual([]);
  });

  it("answers caller mistakes with status codes", async () => {
    await using t = await startTestExecutor(shCatalog({}, { size: 0 }));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e) => ConnectError.from(e).code,
      );
    expect(await code(t.executor.execute({ name: "", inputJson: "{}" }))).toBe(Code.InvalidArgument);
    expect(await code(t.executor.execute({ name: "sh", inputJson: "{not json" }))).toBe(Code.InvalidArgument);
    expect(await code(t.executor.execute({ name: "sh", inputJson: "{}", sessionId: "a.b" }))).toBe(
      Code.InvalidArgument,
    );
    expect(await code(t.executor.execute({ name: "sh", inputJson: "{}", sessionId: ">" }))).toBe(Code.InvalidArgument);
  });

  it("says which image is missing", async () => {
    await using t = await startTestExecutor(shCatalog({ image: "reins/no-such-image" }, { size: 0 }));
    const r = await t.run("sh", { command: "true" });
    expect(r.isError).toBe(true);
    expect(r.output).toBe(
      "the sandbox image reins/no-such-image is not on the sandbox host (build it with scripts/build-images.sh)",
    );
  });
});

describe("executor: lifecycle", () => {
  it("removes the container after success, error and timeout", async () => {
    await using t = await startTestExecutor(shCatalog({ timeout: 1 }, { size: 0 }));
    await t.run("sh", { command: "true" });
    await t.run("sh", { command: "exit 9" });
    const slow = await t.run("sh", { command: "sleep 30" });
    expect(slow).toMatchObject({ isError: true, timedOut: true, exitCode: 137 });
    expect(slow.output).toBe("[timed out after 1 s; the process was killed]");
    await waitForNoContainers(t.docker, t.label);
  });

  it("kills and removes the container when the caller cancels", async () => {
    await using t = await startTestExecutor(shCatalog({ timeout: 60 }, { size: 0 }));
    const abort = new AbortController();
    const began = performance.now();
    const call = t.executor.execute({ name: "sh", inputJson: JSON.stringify({ command: "sleep 60" }) }, abort.signal);
    await runningContainer(t);
    abort.abort();
    const r = await call;
    expect(r.isError).toBe(true);
    expect(r.output).toContain("[cancelled: the call was aborted]");
    expect(performance.now() - began).toBeLessThan(30_000);
    await waitForNoContainers(t.docker, t.label);
  });

  it("queues up to a bound, then refuses with RESOURCE_EXHAUSTED", async () => {
    await using t = await startTestExecutor(shCatalog({}, { size: 0 }), { maxConcurrent: 1, maxQueued: 1 });
    const run = (command: string) => t.executor.execute({ name: "sh", inputJson: JSON.stringify({ command }) });
    const first = run("sleep 1; echo first");
    const second = run("echo second");
    const third = run("echo third").catch((e: unknown) => ConnectError.from(e));
    const refused = await third;
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((refused as ConnectError).rawMessage).toMatch(/1 calls running and 1 queued/);
    expect((await first).stdout).toBe("first\n");
    expect((await second).stdout).toBe("second\n");
  });

  it("on start removes only containers from an earlier life of the same daemon id", async () => {
    await using earlier = await startTestExecutor(shCatalog({}, { size: 0 }), { skipStart: true });
    await using other = await startTestExecutor(shCatalog({}, { size: 0 }), { skipStart: true });
    const leftover = async (daemonId: string) =>
      (
        await earlier.docker.createContainer({
          Image: tinyImage,
          Cmd: ["sleep", "60"],
          Labels: { [daemonLabel]: daemonId },
          HostConfig: { NetworkMode: "none" },
        })
      ).id;
    const mine = await leftover(earlier.executor.daemonId);
    const theirs = await leftover(other.executor.daemonId);
    await using restarted = await startTestExecutor(shCatalog({}, { size: 0 }), {
      daemonId: earlier.executor.daemonId,
    });
    expect(await listLabelledContainers(restarted.docker, restarted.label)).toEqual([]);
    expect(await listLabelledContainers(other.docker, other.label)).toEqual([theirs]);
    expect(mine).not.toBe(theirs);
  });

  it("removes containers it lost track of: never started ones while it runs, any at close", async () => {
    await using t = await startTestExecutor(shCatalog({}, { size: 0 }), {
      neverStartedSweep: { everyMs: 100, minAgeMs: 0 },
    });
    const lost = (Cmd: string[]) =>
      t.docker.createContainer({
        Image: tinyImage,
        Cmd,
        Labels: { [daemonLabel]: t.executor.daemonId },
        HostConfig: { NetworkMode: "none" },
      });
    // Created and never started, as after a create whose answer never arrived.
    const created = await lost(["sleep", "60"]);
    // Started behind the executor's back: left alone while it runs, as a call's container would be.
    const running = await lost(["sleep", "60"]);
    await running.start();
    const deadline = Date.now() + 15_000;
    while ((await listLabelledContainers(t.docker, t.label)).includes(created.id) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await listLabelledContainers(t.docker, t.label)).toEqual([running.id]);
    expect(created.id).not.toBe(running.id);
    await t.executor.close(1_000);
    expect(await listLabelledContainers(t.docker, t.label)).toEqual([]);
  });

  it("drains on close: running calls finish within the grace, then everything is removed", async () => {
    const t = await startTestExecutor(shCatalog({ timeout: 60 }, { size: 2 }));
    try {
      await t.executor.ready();
      const quick = t.run("sh", { command: "sleep 0.3; echo done" });
      const stuck = t.run("sh", { command: "sleep 60" });
      await t.executor.close(1_500);
      expect((await quick).stdout).toBe("done\n");
      const r = await stuck;
      expect(r.isError).toBe(true);
      expect(r.output).toContain("cancelled");
      expect(await listLabelledContainers(t.docker, t.label)).toEqual([]);
      const refused = await t.run("sh", { command: "true" }).catch((e: unknown) => ConnectError.from(e).code);
      expect(refused).toBe(Code.Unavailable);
    } finally {
      await t[Symbol.asyncDispose]();
    }
  });
});

describe("executor: hostile input", () => {
  it("answers any name, input and session id with a result or INVALID_ARGUMENT, and keeps serving", async () => {
    await using t = await startTestExecutor(shCatalog({}, { size: 0 }));
    const anyString = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("a.b", "*", ">", "\0", ""));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant("sh"), fc.constant("stdin"), anyString),
        fc.oneof(fc.json(), anyString),
        fc.oneof(fc.constant(""), anyString),
        async (name, inputJson, sessionId) => {
          try {
            const r = await t.executor.execute({ name, inputJson, sessionId });
            expect(typeof r.output).toBe("string");
          } catch (err) {
            expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect((await t.run("sh", { command: "echo still here" })).stdout).toBe("still here\n");
  });
});

describe("executor: Docker unreachable from the start", () => {
  it("starts anyway and answers every call with an error string", async () => {
    const docker = createDockerClient("unix:///tmp/reins-no-such-docker.sock");
    await using t = await startTestExecutor(shCatalog(), { docker });
    const r = await t.run("sh", { command: "echo hi" });
    expect(r).toMatchObject({ isError: true, exitCode: -1 });
    expect(r.output).toMatch(
      /^Docker is unavailable on the sandbox host while starting a sandbox container .*\(ENOENT\)/,
    );
  });
});
