import { create } from "@bufbuild/protobuf";
import { type ExecutorInfo, ExecutorInfoSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { chooseExecutor } from "./choose-executor.js";

const executor = (id: string, fields: Partial<Omit<ExecutorInfo, "$typeName">> = {}): ExecutorInfo =>
  create(ExecutorInfoSchema, {
    id,
    address: `http://127.0.0.1:70${id.slice(-1)}`,
    incarnation: `${id}-1`,
    tools: ["sh"],
    capacity: 4,
    ...fields,
  });

const chosen = (live: ExecutorInfo[], needs: Parameters<typeof chooseExecutor>[1]) => {
  const choice = chooseExecutor(live, needs);
  return choice.ok ? choice.executor.id : `none: ${choice.why}`;
};

describe("chooseExecutor", () => {
  it("takes the least loaded by (running + queued) / capacity", () => {
    const live = [
      executor("exec-1", { runningCalls: 2, capacity: 4 }), // 0.5
      executor("exec-2", { runningCalls: 3, queuedCalls: 3, capacity: 8 }), // 0.75
      executor("exec-3", { runningCalls: 1, capacity: 4 }), // 0.25
    ];
    expect(chosen(live, { tools: ["sh"], selector: {} })).toBe("exec-3");
  });

  it("breaks ties by the lower id, whatever the listing order", () => {
    const live = [executor("exec-3"), executor("exec-1"), executor("exec-2")];
    expect(chosen(live, { tools: [], selector: {} })).toBe("exec-1");
    expect(chosen([...live].reverse(), { tools: [], selector: {} })).toBe("exec-1");
  });

  it("needs every tool of the session", () => {
    const live = [executor("exec-1", { tools: ["sh"] }), executor("exec-2", { tools: ["sh", "py"], runningCalls: 3 })];
    expect(chosen(live, { tools: ["sh", "py"], selector: {} })).toBe("exec-2");
    expect(chosen(live, { tools: ["go"], selector: {} })).toBe('none: no live executor has the tools "go"');
  });

  it("needs every label of the selector, with its value", () => {
    const live = [
      executor("exec-1", { labels: { region: "us" } }),
      executor("exec-2", { labels: { region: "eu", gpu: "true" }, runningCalls: 4 }),
      executor("exec-3", { labels: { region: "eu" } }),
    ];
    expect(chosen(live, { tools: ["sh"], selector: { region: "eu", gpu: "true" } })).toBe("exec-2");
    expect(chosen(live, { tools: ["sh"], selector: { region: "ap" } })).toBe(
      'none: no live executor with the tools "sh" carries the labels region=ap',
    );
  });

  it("never chooses a draining or excluded executor, even the only idle one", () => {
    const live = [
      executor("exec-1", { draining: true }),
      executor("exec-2", { runningCalls: 4 }),
      executor("exec-3", { runningCalls: 1 }),
    ];
    expect(chosen(live, { tools: ["sh"], selector: {}, exclude: new Set(["exec-3"]) })).toBe("exec-2");
    expect(chosen([executor("exec-1", { draining: true })], { tools: ["sh"], selector: {} })).toBe(
      "none: every live executor that fits the session (1) is draining",
    );
  });

  it("says so when the registry lists nothing", () => {
    expect(chosen([], { tools: ["sh"], selector: {} })).toBe("none: no executor is live in the registry");
  });

  it("reads a capacity of 0 as 1, not as free", () => {
    const live = [executor("exec-1", { capacity: 0, runningCalls: 1 }), executor("exec-2", { runningCalls: 1 })];
    expect(chosen(live, { tools: [], selector: {} })).toBe("exec-2");
  });
});
