import { connectDocker, listLabelledContainers, waitForNoContainers } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startExecutorDaemon } from "./support/executor-daemon.js";
import { healthOf, statusOf } from "./support/hostile.js";

// The per-executor concurrency limit, through the built daemon over gRPC: calls beyond
// REINS_EXECUTOR_MAX_CONCURRENT wait in a queue of REINS_EXECUTOR_MAX_QUEUED, and beyond
// that the daemon answers RESOURCE_EXHAUSTED at once, so the caller can back off or go to
// another sandbox host. A call blocks on `sleep` until its client cancels it: no timing.

const docker = connectDocker();
const sh = (command: string) => ({ name: "sh", inputJson: JSON.stringify({ command }) });

describe("executor concurrency limit", { timeout: 120_000 }, () => {
  it("runs one call, queues one, refuses the next with RESOURCE_EXHAUSTED, then serves the queue", async () => {
    await using x = await startExecutorDaemon({
      env: { REINS_EXECUTOR_MAX_CONCURRENT: "1", REINS_EXECUTOR_MAX_QUEUED: "1" },
    });
    const cancelFirst = new AbortController();
    const first = statusOf(x.client.execute(sh("sleep 600"), { signal: cancelFirst.signal }));
    // The first call holds the only slot once its container exists (the catalog pre-starts none).
    while ((await listLabelledContainers(docker, x.label)).length === 0) await new Promise((r) => setTimeout(r, 50));

    // Two more: whichever reaches the daemon first waits, the other is refused.
    const second = x.client.execute(sh("echo second"));
    const third = x.client.execute(sh("echo third"));
    const refused = await Promise.race([statusOf(second), statusOf(third)]);
    expect(refused).toEqual({
      code: "RESOURCE_EXHAUSTED",
      message: "executor busy: 1 calls running and 1 queued; retry later or use another executor",
    });

    cancelFirst.abort();
    expect((await first).code).toBe("CANCELED");
    const [a, b] = await Promise.allSettled([second, third]);
    const served = [a, b].flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({
      isError: false,
      exitCode: 0,
      stdout: expect.stringMatching(/^(second|third)\n$/),
    });
    expect(await healthOf(x.daemon.url)).toBe("SERVING");
    await waitForNoContainers(docker, x.label);
  });

  it("drops a queued call whose client leaves, so it does not hold a place", async () => {
    await using x = await startExecutorDaemon({
      env: { REINS_EXECUTOR_MAX_CONCURRENT: "1", REINS_EXECUTOR_MAX_QUEUED: "1" },
    });
    const cancelFirst = new AbortController();
    const first = statusOf(x.client.execute(sh("sleep 600"), { signal: cancelFirst.signal }));
    while ((await listLabelledContainers(docker, x.label)).length === 0) await new Promise((r) => setTimeout(r, 50));

    // Two calls: one takes the place in the queue, the other is refused; the queued one leaves.
    const leave = [new AbortController(), new AbortController()] as const;
    const calls = leave.map((c, i) => statusOf(x.client.execute(sh(`echo ${i}`), { signal: c.signal })));
    const refused = await Promise.race(calls.map((call, i) => call.then((status) => ({ i, status }))));
    expect(refused.status.code).toBe("RESOURCE_EXHAUSTED");
    const waiting = 1 - refused.i;
    leave[waiting]?.abort();
    expect((await calls[waiting])?.code).toBe("CANCELED");
    // The queue has room again once the daemon has seen the cancel (the client knows first):
    // a call is then queued, not refused. A refusal comes back at once; a queued call does not.
    let next: Promise<unknown> | undefined;
    for (let attempt = 0; attempt < 100 && !next; attempt++) {
      const call = x.client.execute(sh("echo next"));
      const early = await Promise.race([statusOf(call), new Promise((r) => setTimeout(r, 200, undefined))]);
      if (early === undefined) next = call;
      else expect(early).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    }
    if (!next) throw new Error("the queue never had room again after its call left");
    cancelFirst.abort();
    await first;
    expect(await next).toMatchObject({ isError: false, stdout: "next\n" });
    await waitForNoContainers(docker, x.label);
  });
});
