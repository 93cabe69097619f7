import { create } from "@bufbuild/protobuf";
import { ExecutorInfoSchema, ListExecutorsResponseSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createExecutorDirectory } from "./executor-directory.js";

// A registry that answers from a list the test changes, counting its calls.
function fakeRegistry(ids: string[]) {
  const state = { ids, calls: 0 };
  const registry = {
    async listExecutors() {
      state.calls++;
      return create(ListExecutorsResponseSchema, {
        executors: state.ids.map((id) =>
          create(ExecutorInfoSchema, { id, address: `http://${id}:7003/`, incarnation: `${id}-1`, capacity: 2 }),
        ),
      });
    },
  };
  return { state, registry };
}

describe("createExecutorDirectory", () => {
  it("serves one listing for cacheMs, and one request for callers that ask at once", async () => {
    let now = 0;
    const { state, registry } = fakeRegistry(["exec-1"]);
    const directory = createExecutorDirectory({ registry, cacheMs: 1000, now: () => now });
    await Promise.all([directory.list(), directory.list(), directory.list()]);
    expect(state.calls).toBe(1);
    state.ids = ["exec-1", "exec-2"];
    now = 999;
    expect((await directory.list()).map((e) => e.id)).toEqual(["exec-1"]);
    now = 1000;
    expect((await directory.list()).map((e) => e.id)).toEqual(["exec-1", "exec-2"]);
    await directory.list({ fresh: true });
    expect(state.calls).toBe(3);
  });

  it("counts its own placements against the cached listing until the next one", async () => {
    const { registry } = fakeRegistry(["exec-1", "exec-2"]);
    const directory = createExecutorDirectory({ registry });
    await directory.list();
    directory.notePlaced("exec-1");
    directory.notePlaced("exec-1");
    const queued = (await directory.list()).map((e) => [e.id, e.queuedCalls]);
    expect(queued).toEqual([
      ["exec-1", 2],
      ["exec-2", 0],
    ]);
    expect((await directory.list({ fresh: true })).map((e) => e.queuedCalls)).toEqual([0, 0]);
  });

  it("holds a lost mark for one incarnation, for lostHoldMs", async () => {
    let now = 0;
    const { registry } = fakeRegistry(["exec-1"]);
    const directory = createExecutorDirectory({ registry, lostHoldMs: 500, now: () => now });
    directory.markLost("exec-1", "exec-1-1");
    expect(directory.isLost({ id: "exec-1", incarnation: "exec-1-1" })).toBe(true);
    // The same host restarted is a new incarnation: not lost.
    expect(directory.isLost({ id: "exec-1", incarnation: "exec-1-2" })).toBe(false);
    now = 500;
    expect(directory.isLost({ id: "exec-1", incarnation: "exec-1-1" })).toBe(false);
  });

  it("knows the addresses listings named, however they were spelled", async () => {
    const { registry } = fakeRegistry(["exec-1"]);
    const directory = createExecutorDirectory({ registry });
    expect(directory.isRegistered("http://exec-1:7003")).toBe(false);
    await directory.list();
    expect(directory.isRegistered("HTTP://exec-1:7003")).toBe(true);
    expect(directory.isRegistered("http://exec-2:7003")).toBe(false);
  });
});
