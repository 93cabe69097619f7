import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  AgentConfigSchema,
  type Event,
  HarnessService,
  type RunSessionResponse,
  RunState,
  StopReason,
} from "@reins/proto";
import { lastToolResults, lastUserText, scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import type { SessionClient } from "../log/index.js";
import { interruptText, outcomeUnknown } from "../model/index.js";
import { logProblems, names, toolPairingProblems } from "../testing/assertions.js";
import { startLoopEnv } from "../testing/loop-env.js";
import { createExecutorPool } from "../tools/index.js";
import { createHarnessServiceImpl } from "./harness-service.js";

const config = () => create(AgentConfigSchema, { model: "claude-test", tools: ["bash"] });

function lastStatus(events: readonly Event[]) {
  const status = events.findLast((e) => e.payload.case === "sessionStatus");
  return status?.payload.case === "sessionStatus" ? [status.payload.value.state, status.payload.value.stopReason] : [];
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

describe("HarnessService", () => {
  it("rejects bad input with INVALID_ARGUMENT and a message that says what is wrong", async () => {
    await using env = await startLoopEnv(scriptTurns([]));
    const h = env.harness;
    expect(await codeOf(h.startSession({ config: config(), message: "  " }))).toEqual([
      Code.InvalidArgument,
      "message must not be empty",
    ]);
    expect(await codeOf(h.startSession({ message: "hi" }))).toEqual([Code.InvalidArgument, "config is required"]);
    expect(await codeOf(h.startSession({ config: { tools: ["bash"] }, message: "hi" }))).toEqual([
      Code.InvalidArgument,
      "config.model is required",
    ]);
    const [badId, idMessage] = await codeOf(h.startSession({ sessionId: "a.b", config: config(), message: "hi" }));
    expect(badId).toBe(Code.InvalidArgument);
    expect(idMessage).toContain("session_id");
    const [unknown, toolMessage] = await codeOf(
      h.startSession({ config: { ...config(), tools: ["bash", "rm-rf"] }, message: "hi" }),
    );
    expect(unknown).toBe(Code.InvalidArgument);
    expect(toolMessage).toContain('unknown tool "rm-rf"');
    expect(toolMessage).toContain("offers bash, read");
    expect((await codeOf(h.wake({ sessionId: "nope" })))[0]).toBe(Code.NotFound);
    expect((await codeOf(h.sendMessage({ sessionId: "", message: "x" })))[0]).toBe(Code.InvalidArgument);
    // Nothing was half-written.
    expect((await env.sessions.listSessions({})).sessions).toHaveLength(0);
  });

  it("returns the session id at once, records the agent config with its tool definitions", async () => {
    await using env = await startLoopEnv(scriptTurns([{ content: [{ type: "text", text: "hello" }] }]));
    const { sessionId } = await env.harness.startSession({ config: config(), message: "hi", title: "greeting" });
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const events = await env.settled(sessionId);
    const created = events[0]?.payload;
    expect(created?.case).toBe("sessionCreated");
    if (created?.case === "sessionCreated") {
      expect(created.value.title).toBe("greeting");
      expect(created.value.config?.toolDefinitions.map((d) => d.name)).toEqual(["bash"]);
    }
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
  });

  it("writes the session with its first message and running status, or appends them on an older session service", async () => {
    await using env = await startLoopEnv(scriptTurns([], { content: [{ type: "text", text: "hello" }] }));
    const appended: string[] = [];
    // A session service that predates CreateSession's initial_events ignores them.
    for (const older of [false, true]) {
      const sessions: SessionClient = {
        ...env.sessions,
        createSession: (req, options) =>
          env.sessions.createSession(older ? { ...req, initialEvents: [] } : req, options),
        appendEvents: (req, options) => {
          appended.push(req.sessionId ?? "");
          return env.sessions.appendEvents(req, options);
        },
      };
      const impl = createHarnessServiceImpl({
        sessions,
        executors: createExecutorPool({ defaultAddress: env.executor.url }),
        runner: env.runner,
        deltas: env.deltas,
      });
      const harness = createClient(
        HarnessService,
        createRouterTransport(({ service }) => service(HarnessService, impl)),
      );
      const { sessionId } = await harness.startSession({ config: config(), message: "hi" });
      expect(appended.filter((id) => id === sessionId)).toHaveLength(older ? 1 : 0);
      const events = await env.settled(sessionId);
      expect(names(events).slice(0, 3)).toEqual(["session.created", "user.message", "session.status"]);
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      expect(logProblems(events)).toEqual([]);
    }
  });

  it("treats a retried StartSession with a client-chosen id as a no-op, and another request for it as a conflict", async () => {
    await using env = await startLoopEnv(scriptTurns([{ content: [{ type: "text", text: "hello" }] }]));
    const request = { sessionId: "retried", config: config(), message: "hi", title: "t" };
    await env.harness.startSession(request);
    const first = await env.settled("retried");
    expect(await env.harness.startSession(request)).toMatchObject({ sessionId: "retried" });
    await env.runner.runSession("retried");
    expect(await env.events("retried")).toEqual(first);
    expect(logProblems(first)).toEqual([]);
    const [code] = await codeOf(env.harness.startSession({ ...request, message: "something else" }));
    expect(code).toBe(Code.AlreadyExists);
  });

  it("interrupts a model stream in flight, then SendMessage continues the session", async () => {
    await using env = await startLoopEnv((request) =>
      lastUserText(request.body).includes("continue")
        ? { content: [{ type: "text", text: "continuing" }] }
        : { content: [{ type: "text", text: "this will never finish" }], hold: new Promise(() => {}) },
    );
    const { sessionId } = await env.harness.startSession({ config: config(), message: "start" });
    await env.fake.waitForRequests(1);
    const { seq } = await env.harness.interrupt({ sessionId, reason: "changed my mind" });
    const events = await env.events(sessionId);
    expect(names(events).slice(-2)).toEqual(["user.interrupt", "session.status"]);
    expect(events.at(-2)?.seq).toBe(seq);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.INTERRUPTED]);
    expect(names(events)).not.toContain("agent.message");
    expect((await codeOf(env.harness.interrupt({ sessionId })))[0]).toBe(Code.FailedPrecondition);

    const sent = await env.harness.sendMessage({ sessionId, message: "continue", eventId: "msg-2" });
    const after = await env.settled(sessionId, sent.seq);
    expect(lastStatus(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const user = env.fake.requests.at(-1)?.body?.messages as Array<{ content: Array<{ text: string }> }>;
    expect(user.at(-1)?.content.map((b) => b.text)).toEqual(["start", interruptText("changed my mind"), "continue"]);
    // A retried SendMessage with the same event id is a no-op with the original seq.
    expect(await env.harness.sendMessage({ sessionId, message: "continue", eventId: "msg-2" })).toMatchObject({
      seq: sent.seq,
    });
    expect(logProblems(await env.events(sessionId))).toEqual([]);
  });

  it("interrupts a tool call in flight: the call is cancelled and answered 'interrupted; outcome unknown'", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        { content: [{ type: "tool_use", name: "bash", input: { command: "sleep 1000" } }] },
        (request) => ({ content: [{ type: "text", text: `noted: ${lastToolResults(request.body)[0]?.content}` }] }),
      ]),
    );
    let started = () => {};
    const executing = new Promise<void>((resolve) => {
      started = resolve;
    });
    env.executor.setHandler(
      (_req, signal) =>
        new Promise((_, reject) => {
          started();
          signal.addEventListener("abort", () => reject(new Error("cancelled")));
        }),
    );
    const { sessionId } = await env.harness.startSession({ config: config(), message: "start" });
    await executing;
    await env.harness.interrupt({ sessionId });
    const events = await env.events(sessionId);
    expect(names(events).slice(-3)).toEqual(["agent.tool_result", "user.interrupt", "session.status"]);
    expect(events.at(-3)?.payload.value).toMatchObject({ output: outcomeUnknown, isError: true });
    expect((await codeOf(env.harness.sendMessage({ sessionId: "missing", message: "x" })))[0]).toBe(Code.NotFound);

    const sent = await env.harness.sendMessage({ sessionId, message: "go on" });
    const after = await env.settled(sessionId, sent.seq);
    expect(lastStatus(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(toolPairingProblems(env.fake.requests)).toEqual([]);
    expect(env.executor.calls).toHaveLength(1);
  });

  it("refuses SendMessage while a turn runs", async () => {
    await using env = await startLoopEnv(() => ({
      content: [{ type: "text", text: "slow" }],
      hold: new Promise(() => {}),
    }));
    const { sessionId } = await env.harness.startSession({ config: config(), message: "start" });
    await env.fake.waitForRequests(1);
    const [code, message] = await codeOf(env.harness.sendMessage({ sessionId, message: "hurry" }));
    expect(code).toBe(Code.FailedPrecondition);
    expect(message).toContain("running a turn");
    await env.harness.interrupt({ sessionId });
  });

  it("RunSession streams the events and the live text of a run until it is idle", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        {
          content: [
            { type: "text", text: "Let me check that for you." },
            { type: "tool_use", name: "bash", input: { command: "ls" } },
          ],
        },
        { content: [{ type: "text", text: "There are three files here." }] },
      ]),
    );
    const items: RunSessionResponse["item"][] = [];
    for await (const response of env.harness.runSession({ sessionId: "streamed", config: config(), message: "ls" })) {
      items.push(response.item);
    }
    const events = items.flatMap((i) => (i.case === "event" ? [i.value] : []));
    const deltas = items.flatMap((i) => (i.case === "delta" ? [i.value] : []));
    expect(names(events)).toEqual(names(await env.events("streamed")));
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(
      deltas
        .filter((d) => d.turn === 1)
        .map((d) => d.text)
        .join(""),
    ).toBe("Let me check that for you.");
    expect(
      deltas
        .filter((d) => d.turn === 2)
        .map((d) => d.text)
        .join(""),
    ).toBe("There are three files here.");
    expect(deltas.every((d) => d.sessionId === "streamed" && d.attempt === 1)).toBe(true);
  });
});
