import { type Event, RunState, StopReason } from "@reins/proto";
import {
  assistantTurns,
  connectDocker,
  type FakeScript,
  type FakeTurn,
  startDockerd,
  startNatsServer,
  testImage,
  waitForNoContainers,
} from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { startAckedWriter } from "./support/acked-writer.js";
import { type FaultStack, startFaultStack } from "./support/fault-stack.js";
import { logInvariantProblems, lostAcked } from "./support/invariants.js";
import { lastStatus } from "./support/session-status.js";
import { toolScript } from "./support/tool-script.js";

// Infrastructure faults under running sessions: nats-server SIGKILLed and
// restarted on its store, the executor killed in the middle of a call, the
// Docker engine stopped and started again. Sessions finish (by the harness's
// own retries or a Wake), the log keeps every acknowledged event, and tool
// failures reach the model as error strings.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };

function toolResults(events: readonly Event[]) {
  return events.flatMap((e) => (e.payload.case === "agentToolResult" ? [e.payload.value] : []));
}

const call = (id: string, command: string): FakeTurn => ({
  content: [{ type: "tool_use", id, name: "sh", input: { command } }],
});

async function startOne(stack: FaultStack, message = "go"): Promise<string> {
  const harness = stack.liveHarnesses()[0];
  if (!harness) throw new Error("no harness running");
  return (await stack.harnessClient(harness).startSession({ config, message })).sessionId;
}

describe("infrastructure faults", { timeout: 240_000 }, () => {
  it("SIGKILL of nats-server mid-session, restarted on its store: sessions finish, nothing acknowledged is lost", async () => {
    await using nats = await startNatsServer();
    const turns = 5;
    let killed = false;
    const base = toolScript(turns);
    // The kill lands when the first session asks for its third turn: every
    // session is mid-flight, with events written before and after.
    const script: FakeScript = async (request) => {
      if (!killed && assistantTurns(request.body) === 2) {
        killed = true;
        await nats.kill("SIGKILL");
        setTimeout(() => void nats.restart(), 1500);
      }
      return base(request);
    };
    await using stack = await startFaultStack({ script, natsUrl: nats.url });
    await stack.startHarness();
    const writer = await startAckedWriter(stack.sessions, `nats-probe-${process.pid}`);
    const ids = await Promise.all([0, 1, 2, 3].map((i) => startOne(stack, `go ${i}`)));

    const finished = await Promise.all(ids.map((id) => stack.finish(id, { stallMs: 10_000 })));
    const acked = await writer.stop();
    expect(killed).toBe(true);
    for (const [i, id] of ids.entries()) {
      const { events } = finished[i] as { events: Event[] };
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(logInvariantProblems(id, events, stack.executions())).toEqual([]);
      expect(toolResults(events)).toHaveLength(turns - 1);
    }
    const readBack = await stack.events(`nats-probe-${process.pid}`);
    expect(lostAcked(acked, readBack)).toEqual([]);
    expect(readBack).toHaveLength(acked.length + 1);
    console.log(
      `nats SIGKILL: ${ids.length} sessions, ${finished.reduce((n, f) => n + f.events.length, 0)} events, ` +
        `${finished.reduce((n, f) => n + f.wakes, 0)} wakes; probe ${acked.length} acked (${writer.retries} retried)`,
    );
  });

  it("executor killed mid-call and started again: that call's result is an error string, the session finishes", async () => {
    await using nats = await startNatsServer();
    // The model answers the failed call only once the new executor listens, so
    // its next call checks recovery rather than racing the restart.
    let executorBack: () => void = () => undefined;
    const back = new Promise<void>((resolve) => {
      executorBack = resolve;
    });
    const script: FakeScript = async (request) => {
      const n = assistantTurns(request.body);
      if (n === 0) return call("toolu_slow", "sleep 5; echo slow");
      await back;
      return n === 1 ? call("toolu_after", "echo after") : { content: [{ type: "text", text: "Done." }] };
    };
    await using stack = await startFaultStack({ script, natsUrl: nats.url });
    await stack.startHarness();
    const sessionId = await startOne(stack);
    // The harness writes agent.tool_use_started before it calls Execute; the call then sleeps 5 s.
    for await (const { event } of stack.sessions.streamEvents({ sessionId })) {
      if (event?.payload.case === "agentToolUseStarted") break;
    }
    await stack.restartExecutor("SIGKILL");
    executorBack();

    const { events } = await stack.finish(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logInvariantProblems(sessionId, events, stack.executions())).toEqual([]);
    const [slow, after] = toolResults(events);
    expect(slow).toMatchObject({ toolUseId: "toolu_slow", isError: true });
    expect(slow?.output).toContain("executor");
    // The restarted executor serves the next call.
    expect(after).toMatchObject({ toolUseId: "toolu_after", isError: false });
    expect(after?.output).toContain("after");
    await stack[Symbol.asyncDispose]();
    // The killed executor's containers auto-remove; the new one cleans its label on start and stop.
    await waitForNoContainers(connectDocker(), stack.containerLabel, 30_000);
  });

  it("Docker engine stopped mid-session and started again: error strings while it is down, then tools run again", async () => {
    await using dockerd = await startDockerd({ images: [testImage()] });
    await using nats = await startNatsServer();
    // The model's turns drive the fault: before its second call the engine
    // stops, before its third it is back.
    const script: FakeScript = async (request) => {
      const n = assistantTurns(request.body);
      if (n === 1) await dockerd.stop();
      if (n === 2) await dockerd.start();
      if (n >= 3) return { content: [{ type: "text", text: "Done." }] };
      return call(`toolu_${n + 1}`, `echo call-${n + 1}`);
    };
    await using stack = await startFaultStack({ script, natsUrl: nats.url, dockerHost: dockerd.host });
    await stack.startHarness();
    const sessionId = await startOne(stack);

    const { events } = await stack.finish(sessionId, { stallMs: 30_000 });
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logInvariantProblems(sessionId, events, stack.executions())).toEqual([]);
    const [before, down, back] = toolResults(events);
    expect(before).toMatchObject({ toolUseId: "toolu_1", isError: false });
    expect(before?.output).toContain("call-1");
    expect(down).toMatchObject({ toolUseId: "toolu_2", isError: true });
    expect(down?.output).toMatch(/docker|engine|daemon/i);
    expect(back).toMatchObject({ toolUseId: "toolu_3", isError: false });
    expect(back?.output).toContain("call-3");
    await stack[Symbol.asyncDispose]();
    await waitForNoContainers(dockerd.docker, stack.containerLabel, 30_000);
  });
});
