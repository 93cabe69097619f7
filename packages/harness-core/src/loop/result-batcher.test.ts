import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventPayload, SessionLog } from "../log/index.js";
import { createResultBatcher } from "./result-batcher.js";

// Pure logic: a log that records what it was asked to append.
function recordingLog() {
  const appends: string[][] = [];
  const log = {
    append: async (...payloads: EventPayload[]) => {
      appends.push(payloads.map((p) => (p.case === "agentToolResult" ? p.value.output : String(p.case))));
      return [];
    },
  } as unknown as SessionLog;
  return { log, appends };
}

const result = (output: string): EventPayload => ({
  case: "agentToolResult",
  value: { toolUseId: output, name: "bash", output } as never,
});

describe("createResultBatcher", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds the last batch until it is released", async () => {
    const { log, appends } = recordingLog();
    const batcher = createResultBatcher(log, 2, 100);
    const first = batcher.add(result("one"));
    const second = batcher.add(result("two"));
    await Promise.resolve();
    expect(appends).toEqual([]);
    batcher.release();
    await Promise.all([first, second]);
    expect(appends).toEqual([["one", "two"]]);
  });

  it("released early, writes the last batch as soon as the last call finishes", async () => {
    const { log, appends } = recordingLog();
    const batcher = createResultBatcher(log, 2, 100);
    batcher.release();
    const first = batcher.add(result("one"));
    expect(appends).toEqual([]);
    batcher.skip();
    await first;
    expect(appends).toEqual([["one"]]);
  });

  it("writes a finished result after the delay while a sibling still runs", async () => {
    vi.useFakeTimers();
    const { log, appends } = recordingLog();
    const batcher = createResultBatcher(log, 2, 100);
    const first = batcher.add(result("one"));
    vi.advanceTimersByTime(99);
    expect(appends).toEqual([]);
    vi.advanceTimersByTime(1);
    await first;
    expect(appends).toEqual([["one"]]);
    const second = batcher.add(result("two"));
    batcher.release();
    await second;
    expect(appends).toEqual([["one"], ["two"]]);
  });

  it("release with nothing to write appends nothing", () => {
    const { log, appends } = recordingLog();
    const batcher = createResultBatcher(log, 1, 100);
    batcher.skip();
    batcher.release();
    expect(appends).toEqual([]);
  });
});
