import { type Event, RunState, StopReason } from "@reins/proto";
import {
  assistantTurns,
  connectDocker,
  type FakeScript,
  type ResetProxy,
  startNatsServer,
  startResetProxy,
  waitForNoContainers,
} from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startFaultStack } from "./support/fault-stack.js";
import { logInvariantProblems } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";

// The connection between harness and session service reset (TCP RST) under an
// append, after the service has read it: the harness cannot tell whether it was
// written. connect-node reports such a reset as ABORTED, the code of a fenced
// append; only the service's own fence answer means another writer, so the
// harness retries with the same event ids on a new connection and the run goes on.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };

const count = (events: readonly Event[], kind: Event["payload"]["case"]) =>
  events.filter((e) => e.payload.case === kind).length;

describe("a connection to the session service reset under an append", { timeout: 120_000 }, () => {
  it.each(["direct", "queue"])(
    "%s mode: the run goes on after reconnecting, with no duplicated events",
    async (mode) => {
      await using nats = await startNatsServer();
      let proxy: ResetProxy | undefined;
      let cut: Promise<void> | undefined;
      // The cut is armed while the first model request is out: the next append is its
      // answer with the call's intent, and the reset lands after the service read it.
      const script: FakeScript = (request) => {
        const n = assistantTurns(request.body);
        if (n === 0) {
          cut = proxy?.resetUnderNextRequest();
          return { content: [{ type: "tool_use", id: "toolu_cut", name: "sh", input: { command: "echo ran-once" } }] };
        }
        return { content: [{ type: "text", text: "Done." }] };
      };
      await using stack = await startFaultStack({ script, natsUrl: nats.url });
      await using reset = await startResetProxy(stack.session.url);
      proxy = reset;
      const harness = await stack.startHarness({ REINS_SESSION_URL: reset.url, REINS_WAKE_MODE: mode });
      const { sessionId } = await stack
        .harnessClient(harness)
        .startSession({ config, message: "run it, through a connection that breaks" });

      // No Wake: the harness alone must carry on (a fenced run would leave the session running).
      const events = await stack.settled(sessionId, 15_000);
      await cut;
      expect(reset.resets).toBe(1);
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(logInvariantProblems(sessionId, events, stack.executions())).toEqual([]);
      // The answer whose acknowledgement was lost is in the log once, and so is its intent.
      expect(count(events, "agentMessage")).toBe(2);
      expect(count(events, "agentToolUseStarted")).toBe(1);
      const result = events.find((e) => e.payload.case === "agentToolResult")?.payload.value;
      expect(result).toMatchObject({ toolUseId: "toolu_cut", isError: false });
      expect(stack.executions()).toHaveLength(1);
      expect(harness.output.some((line) => line.includes("fenced out"))).toBe(false);
      await stack[Symbol.asyncDispose]();
      await waitForNoContainers(connectDocker(), stack.containerLabel, 30_000);
    },
  );
});
