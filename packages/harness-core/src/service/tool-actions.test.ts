import { setTimeout as sleep } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AgentConfigSchema,
  type Event,
  PermissionPolicy,
  RunState,
  StopReason,
  ToolConfirmationResult,
} from "@reins/proto";
import { type CapturedRequest, lastToolResults, scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { deniedText } from "../log/index.js";
import { logProblems, names, toolPairingProblems } from "../testing/assertions.js";
import { startLoopEnv } from "../testing/loop-env.js";

const { ALLOW, DENY } = ToolConfirmationResult;

const askBash = () =>
  create(AgentConfigSchema, {
    model: "claude-test",
    tools: ["bash", "read"],
    toolPermissions: { bash: PermissionPolicy.ALWAYS_ASK },
  });

const withCustom = (limits: MessageInitShape<typeof AgentConfigSchema>["limits"] = undefined) =>
  create(AgentConfigSchema, {
    model: "claude-test",
    limits,
    customTools: [
      {
        name: "lookup_order",
        description: "Looks an order up in the client's database.",
        inputSchemaJson: JSON.stringify({ type: "object", properties: { order: { type: "string" } } }),
      },
    ],
  });

function lastStatus(events: readonly Event[]) {
  const status = events.findLast((e) => e.payload.case === "sessionStatus");
  return status?.payload.case === "sessionStatus" ? status.payload.value : undefined;
}

async function codeOf(call: Promise<unknown>): Promise<[Code | undefined, string]> {
  try {
    await call;
    return [undefined, ""];
  } catch (err) {
    const e = ConnectError.from(err);
    return [e.code, e.rawMessage];
  }
}

// The model answers the tool results it read, so a test sees them in the session's last text.
const echoResults = (request: CapturedRequest) => ({
  content: [
    {
      type: "text" as const,
      text: lastToolResults(request.body)
        .map((r) => `${r.toolUseId}=${r.isError ? "error:" : ""}${r.content}`)
        .join(" | "),
    },
  ],
});

describe("tool calls that wait for the client", () => {
  it("always_ask: nothing runs until allowed; the same confirmation again is a no-op, another is refused", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_ask", name: "bash", input: { command: "ls" } }] },
        echoResults,
      ]),
    );
    const { sessionId } = await env.harness.startSession({ config: askBash(), message: "list" });
    const waiting = await env.settled(sessionId);
    expect(lastStatus(waiting)).toMatchObject({
      state: RunState.IDLE,
      stopReason: StopReason.REQUIRES_ACTION,
      pendingToolUseIds: ["toolu_ask"],
    });
    // Recorded (write-ahead) but not started: no intent, no Execute.
    expect(names(waiting)).not.toContain("agent.tool_use_started");
    expect(env.executor.calls).toHaveLength(0);

    const confirmed = await env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_ask", result: ALLOW });
    expect(confirmed.pendingToolUseIds).toEqual([]);
    const done = await env.settled(sessionId, confirmed.seq);
    expect(lastStatus(done)).toMatchObject({ state: RunState.IDLE, stopReason: StopReason.END_TURN });
    expect(env.executor.calls.map((c) => c.callId)).toEqual(["toolu_ask"]);
    expect(names(done.filter((e) => e.seq > confirmed.seq))).toEqual([
      "session.status",
      "agent.tool_use_started",
      "agent.tool_result",
      "agent.message",
      "span.model_request",
      "session.status",
    ]);
    // The same decision again (a retry) is a no-op with the first one's seq; the other is refused.
    expect(await env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_ask", result: ALLOW })).toMatchObject({
      seq: confirmed.seq,
    });
    expect(await codeOf(env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_ask", result: DENY }))).toEqual([
      Code.FailedPrecondition,
      "tool call toolu_ask was already allowed",
    ]);
    expect((await env.events(sessionId)).length).toBe(done.length);
    expect(env.executor.calls).toHaveLength(1);
    expect(logProblems(done)).toEqual([]);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
  });

  it("a denied call never runs: the model reads an error result with the client's message", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_rm", name: "bash", input: { command: "rm -rf /" } }] },
        { content: [{ type: "tool_use", id: "toolu_rm2", name: "bash", input: { command: "rm -rf ~" } }] },
        echoResults,
      ]),
    );
    const { sessionId } = await env.harness.startSession({ config: askBash(), message: "clean up" });
    await env.settled(sessionId);
    const first = await env.harness.confirmToolUse({
      sessionId,
      toolUseId: "toolu_rm",
      result: DENY,
      denyMessage: "not on this machine",
      eventId: "deny-1",
    });
    const second = await env.settled(sessionId, first.seq);
    expect(lastStatus(second)?.pendingToolUseIds).toEqual(["toolu_rm2"]);
    // A retry by event id is a no-op.
    expect(
      await env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_rm", result: DENY, eventId: "deny-1" }),
    ).toMatchObject({ seq: first.seq });
    const last = await env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_rm2", result: DENY });
    const done = await env.settled(sessionId, last.seq);
    expect(env.executor.calls).toHaveLength(0);
    expect(names(done)).not.toContain("agent.tool_use_started");
    const results = env.fake.requests.map((r) => lastToolResults(r.body));
    expect(results[1]).toEqual([{ toolUseId: "toolu_rm", content: "not on this machine", isError: true }]);
    expect(results[2]).toEqual([{ toolUseId: "toolu_rm2", content: deniedText, isError: true }]);
    expect(lastStatus(done)?.stopReason).toBe(StopReason.END_TURN);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
  });

  it("parallel calls: the allowed one runs while the other waits; results go back together in tool_use order", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        {
          content: [
            { type: "tool_use", id: "toolu_a_ask", name: "bash", input: { command: "make deploy" } },
            { type: "tool_use", id: "toolu_b_allow", name: "read", input: { command: "README.md" } },
          ],
        },
        echoResults,
      ]),
    );
    env.executor.setHandler((req) => ({ output: `ran ${req.name}` }));
    const { sessionId } = await env.harness.startSession({ config: askBash(), message: "deploy" });
    const waiting = await env.settled(sessionId);
    expect(lastStatus(waiting)?.pendingToolUseIds).toEqual(["toolu_a_ask"]);
    expect(env.executor.calls.map((c) => c.callId)).toEqual(["toolu_b_allow"]);
    expect(names(waiting).filter((n) => n === "agent.tool_result")).toHaveLength(1);
    expect(env.fake.requests).toHaveLength(1);

    const { seq } = await env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_a_ask", result: ALLOW });
    await env.settled(sessionId, seq);
    expect(env.executor.calls.map((c) => c.callId)).toEqual(["toolu_b_allow", "toolu_a_ask"]);
    expect(lastToolResults(env.fake.requests[1]?.body)).toEqual([
      { toolUseId: "toolu_a_ask", content: "ran bash", isError: false },
      { toolUseId: "toolu_b_allow", content: "ran read", isError: false },
    ]);
  });

  it("custom tools: offered to the model, handed to the client, answered with its result", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_c", name: "lookup_order", input: { order: "A-17" } }] },
        echoResults,
      ]),
    );
    const { sessionId } = await env.harness.startSession({ config: withCustom(), message: "where is A-17?" });
    const waiting = await env.settled(sessionId);
    const handed = waiting.find((e) => e.payload.case === "agentCustomToolUse")?.payload.value;
    expect(handed).toMatchObject({ toolUseId: "toolu_c", name: "lookup_order", inputJson: '{"order":"A-17"}' });
    expect(lastStatus(waiting)).toMatchObject({
      stopReason: StopReason.REQUIRES_ACTION,
      pendingToolUseIds: ["toolu_c"],
    });
    const offered = env.fake.requests[0]?.body?.tools as Array<{ name: string; description: string }>;
    expect(offered.map((t) => t.name)).toEqual(["lookup_order"]);

    // Nothing else may come before the call's result, and a confirmation is the wrong answer.
    const [sendCode, sendMessage] = await codeOf(env.harness.sendMessage({ sessionId, message: "hello?" }));
    expect([sendCode, sendMessage]).toEqual([
      Code.FailedPrecondition,
      `session ${sessionId} waits for tool calls toolu_c: answer them (ConfirmToolUse, SendCustomToolResult) or Interrupt it`,
    ]);
    expect(await codeOf(env.harness.confirmToolUse({ sessionId, toolUseId: "toolu_c", result: ALLOW }))).toEqual([
      Code.InvalidArgument,
      'tool call toolu_c is a call of custom tool "lookup_order": send its result with SendCustomToolResult',
    ]);

    const sent = await env.harness.sendCustomToolResult({ sessionId, toolUseId: "toolu_c", output: "shipped" });
    const done = await env.settled(sessionId, sent.seq);
    expect(lastToolResults(env.fake.requests[1]?.body)).toEqual([
      { toolUseId: "toolu_c", content: "shipped", isError: false },
    ]);
    expect(lastStatus(done)?.stopReason).toBe(StopReason.END_TURN);
    expect(env.executor.calls).toHaveLength(0);
    // The same result again is a no-op; another is refused.
    expect(
      await env.harness.sendCustomToolResult({ sessionId, toolUseId: "toolu_c", output: "shipped" }),
    ).toMatchObject({ seq: sent.seq });
    expect(
      await codeOf(
        env.harness.sendCustomToolResult({ sessionId, toolUseId: "toolu_c", output: "lost", isError: true }),
      ),
    ).toEqual([Code.FailedPrecondition, "tool call toolu_c already has a result"]);
  });

  it("wall time counts while the session waits: an answer after the limit ends the run, with no model request", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_late", name: "lookup_order", input: { order: "B-2" } }] },
        echoResults,
      ]),
    );
    const config = withCustom({ maxWallTime: durationFromMs(300) });
    const { sessionId } = await env.harness.startSession({ config, message: "where is B-2?" });
    const waiting = await env.settled(sessionId);
    expect(lastStatus(waiting)?.stopReason).toBe(StopReason.REQUIRES_ACTION);
    // The client takes longer than the session's whole wall time to answer: the
    // time passing is what is under test here, not a stand-in for an event.
    await sleep(400);
    const sent = await env.harness.sendCustomToolResult({ sessionId, toolUseId: "toolu_late", output: "late" });
    const done = await env.settled(sessionId, sent.seq);
    expect(lastStatus(done)).toMatchObject({ state: RunState.TERMINATED, stopReason: StopReason.BUDGET_REACHED });
    expect(env.fake.requests).toHaveLength(1);
    expect(logProblems(done)).toEqual([]);
  });

  it("refuses unknown, resolved and not-waiting calls with the exact errors", async () => {
    await using env = await startLoopEnv(
      scriptTurns([{ content: [{ type: "tool_use", id: "toolu_x", name: "bash", input: { command: "ls" } }] }]),
    );
    const h = env.harness;
    const { sessionId } = await h.startSession({ config: askBash(), message: "list" });
    await env.settled(sessionId);
    expect(await codeOf(h.confirmToolUse({ sessionId, toolUseId: "toolu_nope", result: ALLOW }))).toEqual([
      Code.NotFound,
      `session ${sessionId} has no tool call toolu_nope`,
    ]);
    expect((await codeOf(h.confirmToolUse({ sessionId: "missing", toolUseId: "toolu_x", result: ALLOW })))[0]).toBe(
      Code.NotFound,
    );
    expect(await codeOf(h.confirmToolUse({ sessionId, toolUseId: "", result: ALLOW }))).toEqual([
      Code.InvalidArgument,
      "tool_use_id must not be empty",
    ]);
    expect(await codeOf(h.confirmToolUse({ sessionId, toolUseId: "toolu_x" }))).toEqual([
      Code.InvalidArgument,
      "result must be TOOL_CONFIRMATION_RESULT_ALLOW or TOOL_CONFIRMATION_RESULT_DENY",
    ]);
    expect(await codeOf(h.sendCustomToolResult({ sessionId, toolUseId: "toolu_x", output: "x" }))).toEqual([
      Code.InvalidArgument,
      'tool call toolu_x of "bash" is not a custom tool call: allow or deny it with ConfirmToolUse',
    ]);
    // An interrupt answers the waiting call: it is resolved, and the session is no longer waiting.
    await h.interrupt({ sessionId, reason: "never mind" });
    expect(await codeOf(h.confirmToolUse({ sessionId, toolUseId: "toolu_x", result: ALLOW }))).toEqual([
      Code.FailedPrecondition,
      "tool call toolu_x already has a result (error: interrupted before it ran; it was not executed)",
    ]);
    expect(env.executor.calls).toHaveLength(0);

    // StartSession refuses policies and custom tools it cannot use.
    const bad = async (config: object) => codeOf(h.startSession({ config: { model: "m", ...config }, message: "hi" }));
    expect(await bad({ tools: ["bash"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } })).toEqual([
      Code.InvalidArgument,
      'config.tool_permissions["sh"] names a tool the session does not have (its tools: bash)',
    ]);
    expect(await bad({ tools: ["bash"], customTools: [{ name: "bash" }] })).toEqual([
      Code.InvalidArgument,
      'config.custom_tools[0].name "bash" is also a tool of the session (config.tools): names must be unique',
    ]);
    expect(await bad({ customTools: [{ name: "has space" }] })).toEqual([
      Code.InvalidArgument,
      'config.custom_tools[0].name "has space" is not a tool name (^[A-Za-z0-9_-]{1,64}$)',
    ]);
  });

  it("a waiting session makes no model request and runs nothing, however often it is woken; another replica continues it", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_w", name: "bash", input: { command: "ls" } }] },
        echoResults,
      ]),
    );
    const { sessionId } = await env.harness.startSession({ config: askBash(), message: "list" });
    const waiting = await env.settled(sessionId);
    // The replica that ran it is gone; another one is woken, again and again.
    await env.runner.close();
    const replica = env.newRunner();
    for (let i = 0; i < 3; i++) {
      expect(await replica.runSession(sessionId)).toEqual({ kind: "idle", stopReason: StopReason.REQUIRES_ACTION });
      await env.harness.wake({ sessionId });
    }
    expect(await env.events(sessionId)).toEqual(waiting);
    expect(env.fake.requests).toHaveLength(1);
    // The confirmation is in the log: the other replica reads it and goes on.
    await env.sessions.appendEvents({
      sessionId,
      expectedLastSeq: waiting.at(-1)?.seq ?? 0n,
      events: [
        {
          id: "confirm-w",
          payload: { case: "userToolConfirmation", value: { toolUseId: "toolu_w", result: ALLOW } },
        },
        { id: "running-w", payload: { case: "sessionStatus", value: { state: RunState.RUNNING } } },
      ],
    });
    expect(await replica.runSession(sessionId)).toEqual({ kind: "idle", stopReason: StopReason.END_TURN });
    expect(env.executor.calls.map((c) => c.callId)).toEqual(["toolu_w"]);
    expect(env.fake.requests).toHaveLength(2);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
  });
});
