import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type Event,
  HarnessService,
  PermissionPolicy,
  RunState,
  StopReason,
  ToolConfirmationResult,
} from "@reins/proto";
import { type Daemon, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startHarnessStack } from "./support/harness-stack.js";
import { lastStatus } from "./support/session-status.js";

// Tool calls that wait for a person, across real harness replicas on the wake
// work queue: the answer is in the log, so whichever replica holds the session
// next goes on; while the session waits nobody holds it and nothing asks the model.

const config = { model: "claude-test", tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } };
const queue = { REINS_WAKE_MODE: "queue", REINS_WAKE_ACK_WAIT_MS: "1000" };
const clientOf = (daemon: Daemon) => createClient(HarnessService, createGrpcTransport({ baseUrl: daemon.url }));

function pendingOf(events: readonly Event[]): string[] {
  const status = events.findLast((e) => e.payload.case === "sessionStatus");
  return status?.payload.case === "sessionStatus" ? status.payload.value.pendingToolUseIds : [];
}

describe("always_ask across replicas", { timeout: 90_000 }, () => {
  it("a replica dies right after the answer; another leaves it waiting, asks nothing over a quiet period, and runs it once confirmed", async () => {
    const script = scriptTurns([
      { content: [{ type: "tool_use", id: "toolu_q", name: "sh", input: { command: "echo approved" } }] },
      { content: [{ type: "text", text: "Done." }] },
    ]);
    await using stack = await startHarnessStack(script, {
      ...queue,
      REINS_FAULT_INJECTION: "1",
      REINS_FAULT_CRASH_AFTER: "agent.message:1",
    });
    const doomed = stack.harness();
    const { sessionId } = await clientOf(doomed).startSession({ config, message: "go" });
    await doomed.exited;
    const survivor = await stack.startHarness({ REINS_FAULT_CRASH_AFTER: "" });
    const waiting = await stack.settled(sessionId);
    expect(lastStatus(waiting)).toEqual([RunState.IDLE, StopReason.REQUIRES_ACTION]);
    expect(pendingOf(waiting)).toEqual(["toolu_q"]);

    // Three ack waits: a wake left on the queue would have been redelivered and run by now.
    const requests = stack.fake.requests.length;
    const wakes = () =>
      survivor.output.filter((l) => /"wake (taken|redelivered)/.test(l) && l.includes(sessionId)).length;
    const taken = wakes();
    await sleep(3_000);
    expect(stack.fake.requests.length).toBe(requests);
    expect(wakes()).toBe(taken);
    expect(await stack.events(sessionId)).toEqual(waiting);

    const confirmed = await clientOf(survivor).confirmToolUse({
      sessionId,
      toolUseId: "toolu_q",
      result: ToolConfirmationResult.ALLOW,
    });
    const done = await stack.settled(sessionId, confirmed.seq);
    expect(lastStatus(done)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const result = done.find((e) => e.payload.case === "agentToolResult")?.payload.value;
    expect(result).toMatchObject({ toolUseId: "toolu_q", isError: false });
    expect(result && "output" in result ? result.output : "").toContain("approved");
    expect(stack.fake.requests.length).toBe(requests + 1);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });
});
