import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AgentConfigSchema, type Event, EventSchema, RunState, StopReason } from "@reins/proto";
import { validateMessagesRequest } from "@reins/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { interruptText, notRun, outcomeUnknown } from "../model/index.js";
import { createSessionFold } from "./fold.js";

type Payload = MessageInitShape<typeof EventSchema>["payload"];
type Block = string | { tool: string; id: string; input?: Record<string, unknown> };

// A tiny log writer: each call appends one event with the next seq.
function logOf() {
  const events: Event[] = [];
  const add = (payload: Payload) => {
    const seq = BigInt(events.length + 1);
    events.push(create(EventSchema, { id: `ev-${seq}`, seq, time: timestampFromMs(1_000 * Number(seq)), payload }));
    return add;
  };
  const w = {
    events,
    created: (tenant = "") =>
      add({ case: "sessionCreated", value: { config: create(AgentConfigSchema, { model: "m" }), tenant } }) && w,
    user: (text: string) => add({ case: "userMessage", value: { text } }) && w,
    interrupt: (reason = "") => add({ case: "userInterrupt", value: { reason } }) && w,
    agent: (blocks: Block[], stopReason?: StopReason) =>
      add({
        case: "agentMessage",
        value: {
          model: "m",
          stopReason:
            stopReason ?? (blocks.some((b) => typeof b !== "string") ? StopReason.TOOL_USE : StopReason.END_TURN),
          content: blocks.map((b) =>
            typeof b === "string"
              ? { block: { case: "text", value: { text: b } } }
              : {
                  block: {
                    case: "toolUse",
                    value: { id: b.id, name: b.tool, inputJson: JSON.stringify(b.input ?? {}) },
                  },
                },
          ),
        },
      }) && w,
    started: (id: string) => add({ case: "agentToolUseStarted", value: { toolUseId: id, name: "bash" } }) && w,
    result: (id: string, output: string, isError = false) =>
      add({ case: "agentToolResult", value: { toolUseId: id, name: "bash", output, isError } }) && w,
    status: (state: RunState, stopReason = StopReason.UNSPECIFIED) =>
      add({ case: "sessionStatus", value: { state, stopReason } }) && w,
    rescheduled: (retryAtMs: number) =>
      add({ case: "sessionStatus", value: { state: RunState.RESCHEDULING, retryTime: timestampFromMs(retryAtMs) } }) &&
      w,
    placed: (executorId: string, previousExecutorId = "") =>
      add({
        case: "sessionPlaced",
        value: { executorId, executorAddress: `http://${executorId}:7003`, incarnation: "i1", previousExecutorId },
      }) && w,
    compacted: (lastSeq: bigint) =>
      add({ case: "agentContextCompacted", value: { summary: "s", firstSeq: 1n, lastSeq, turns: 1 } }) && w,
    span: (input: number, output: number) =>
      add({
        case: "spanModelRequest",
        value: { usage: { inputTokens: BigInt(input), outputTokens: BigInt(output) } },
      }) && w,
  };
  return w;
}

function expectValid(messages: unknown[]) {
  expect(validateMessagesRequest({ model: "m", max_tokens: 10, messages })).toBeUndefined();
}

describe("createSessionFold", () => {
  it("knows the session's tenant from session.created", () => {
    expect(createSessionFold("s", logOf().created("acme").user("hi").events).tenant).toBe("acme");
    expect(createSessionFold("s", logOf().created().events).tenant).toBe("");
    expect(createSessionFold("s").tenant).toBe("");
  });

  it("routes by the latest session.placed, through a compaction, and from a checkpoint read out of order", () => {
    const log = logOf().created().user("go").placed("exec-1").placed("exec-2", "exec-1").user("more").compacted(5n);
    expect(createSessionFold("s", log.events).placement?.executorId).toBe("exec-2");
    // A wake from the checkpoint applies the latest placement after session.created, then what follows.
    const [created, , , placed, , compaction] = log.events;
    const fold = createSessionFold(
      "s",
      [created, placed, compaction].filter((e) => e !== undefined),
    );
    expect(fold.placement?.previousExecutorId).toBe("exec-1");
    fold.apply(log.events[2] as Event); // an older placement seen late never wins
    expect(fold.placement?.executorId).toBe("exec-2");
    expect(createSessionFold("s", logOf().created().user("hi").events).placement).toBeUndefined();
  });

  it("groups parallel tool results in tool_use order, whatever order the log holds them in", () => {
    const log = logOf()
      .created()
      .user("list files")
      .status(RunState.RUNNING)
      .agent(["Two at once.", { tool: "bash", id: "a", input: { c: 1 } }, { tool: "bash", id: "b" }])
      .started("a")
      .started("b")
      .result("b", "second")
      .result("a", "first");
    const fold = createSessionFold("s", log.events);
    expect(fold.next()).toBe("model");
    const conversation = fold.conversation();
    expect(conversation).toEqual([
      { role: "user", content: [{ type: "text", text: "list files" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Two at once." },
          { type: "tool_use", id: "a", name: "bash", input: { c: 1 } },
          { type: "tool_use", id: "b", name: "bash", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "a", content: "first", is_error: false },
          { type: "tool_result", tool_use_id: "b", content: "second", is_error: false },
        ],
      },
    ]);
    expectValid(conversation);
  });

  it("says what is next at every step of a turn", () => {
    const log = logOf().created();
    const next = () => createSessionFold("s", log.events).next();
    expect(next()).toBe("idle");
    log.user("hi");
    expect(next()).toBe("model");
    log.agent([{ tool: "bash", id: "t1" }]);
    expect(next()).toBe("tools");
    log.started("t1");
    expect(next()).toBe("tools");
    log.result("t1", "ok");
    expect(next()).toBe("model");
    log.agent(["partial"], StopReason.PAUSE_TURN);
    expect(next()).toBe("model");
    log.agent(["done"]);
    expect(next()).toBe("idle");
    log.user("again").interrupt();
    expect(next()).toBe("idle");
    log.status(RunState.TERMINATED, StopReason.MAX_TURNS);
    expect(next()).toBe("terminated");
  });

  it("waits for new input after a run that failed: a user message or a running status (a client's Wake)", () => {
    for (const reason of [StopReason.ERROR, StopReason.RETRIES_EXHAUSTED]) {
      const log = logOf().created().user("hi").status(RunState.RUNNING).status(RunState.IDLE, reason);
      const fold = () => createSessionFold("s", log.events);
      // The conversation still ends with the user's message; asking the model again would fail the same way.
      expect(fold().failed).toBe(true);
      expect(fold().next()).toBe("idle");
      expect(fold().idleReason()).toBe(reason);
      log.status(RunState.RUNNING);
      expect(fold().failed).toBe(false);
      expect(fold().next()).toBe("model");
      log.status(RunState.IDLE, reason).user("try this instead");
      expect(fold().failed).toBe(false);
      expect(fold().next()).toBe("model");
    }
    // After tool results, too: the failed request was the one that would have answered them.
    const afterTools = logOf()
      .created()
      .user("go")
      .agent([{ tool: "bash", id: "t1" }])
      .result("t1", "ok")
      .status(RunState.IDLE, StopReason.ERROR);
    expect(createSessionFold("s", afterTools.events).next()).toBe("idle");
    // Other idle reasons are turns that ended, not failures.
    const interrupted = logOf().created().user("go").interrupt().status(RunState.IDLE, StopReason.INTERRUPTED);
    expect(createSessionFold("s", interrupted.events).failed).toBe(false);
  });

  it("counts the rescheduled attempts of a turn, keeps the run's start, and knows when the turn is due", () => {
    const log = logOf().created().user("hi").status(RunState.RUNNING).rescheduled(10_000);
    const fold = () => createSessionFold("s", log.events);
    expect(fold().runState).toBe(RunState.RESCHEDULING);
    expect(fold().next()).toBe("model");
    expect(fold().reschedules).toBe(1);
    expect(fold().retryAt).toBe(10_000);
    log.status(RunState.RUNNING).rescheduled(20_000);
    expect(fold().reschedules).toBe(2);
    expect(fold().retryAt).toBe(20_000);
    // The wall time of the run counts from its first running status (seq 3), waits included.
    log.status(RunState.RUNNING);
    expect(fold().runStartedAt).toBe(3_000);
    expect(fold().retryAt).toBeUndefined();
    // An answer ends the series: a later outage starts a new one.
    log.agent([{ tool: "bash", id: "t1" }]).result("t1", "ok");
    expect(fold().reschedules).toBe(0);
    log.rescheduled(30_000);
    expect(fold().reschedules).toBe(1);
    // So does the run's end, and new input.
    log.status(RunState.IDLE, StopReason.RETRIES_EXHAUSTED);
    expect(fold().reschedules).toBe(0);
    log.status(RunState.RUNNING).rescheduled(40_000).user("more");
    expect(fold().reschedules).toBe(0);
  });

  it("answers calls a crash or an interrupt left open, so no tool_use goes unanswered", () => {
    const log = logOf()
      .created()
      .user("go")
      .agent([
        { tool: "bash", id: "ran" },
        { tool: "bash", id: "started" },
        { tool: "bash", id: "never" },
      ])
      .started("ran")
      .started("started")
      .result("ran", "fine")
      .interrupt("stop");
    const fold = createSessionFold("s", log.events);
    expect(fold.next()).toBe("idle");
    expect(fold.idleReason()).toBe(StopReason.INTERRUPTED);
    const conversation = fold.conversation();
    expect(conversation.at(-1)).toEqual({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "ran", content: "fine", is_error: false },
        { type: "tool_result", tool_use_id: "started", content: outcomeUnknown, is_error: true },
        { type: "tool_result", tool_use_id: "never", content: notRun, is_error: true },
        { type: "text", text: interruptText("stop") },
      ],
    });
    expectValid(conversation);
  });

  it("tracks open calls and which of them started", () => {
    const log = logOf()
      .created()
      .user("go")
      .agent([
        { tool: "bash", id: "x" },
        { tool: "bash", id: "y" },
      ])
      .started("x");
    const calls = createSessionFold("s", log.events).openCalls();
    expect(calls.map((c) => [c.toolUse.id, c.startedEventId !== undefined, c.result])).toEqual([
      ["x", true, undefined],
      ["y", false, undefined],
    ]);
  });

  it("drops empty text and empty answers, merging the user turns around them", () => {
    const log = logOf().created().user("one").agent([""]).user("two").agent(["", "reply"]);
    const conversation = createSessionFold("s", log.events).conversation();
    expect(conversation).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "reply" }] },
    ]);
    expectValid(conversation);
  });

  it("ignores an event it has already folded, and counts turns, tokens and run state", () => {
    const log = logOf()
      .created()
      .user("hi")
      .status(RunState.RUNNING)
      .agent(["a"])
      .span(100, 20)
      .status(RunState.IDLE, StopReason.END_TURN);
    const fold = createSessionFold("s", [...log.events, ...log.events]);
    expect(fold.turns).toBe(1);
    expect(fold.totalTokens).toBe(120);
    expect(fold.lastSeq).toBe(6n);
    expect(fold.runState).toBe(RunState.IDLE);
    expect(fold.stopReason).toBe(StopReason.END_TURN);
    expect(fold.seqOf("ev-2")).toBe(2n);
    expect(fold.conversation()).toHaveLength(2);
    const running = createSessionFold("s", log.events.slice(0, 3));
    expect(running.runStartedAt).toBe(3_000);
  });

  it("folds a session cut at any event into a conversation the Messages API accepts", () => {
    const turn = fc.record({
      text: fc.constantFrom("", "ok", "thinking aloud"),
      tools: fc.integer({ min: 0, max: 3 }),
      resultOrder: fc.boolean(),
      userAfter: fc.constantFrom("message", "interrupt", "none"),
    });
    fc.assert(
      fc.property(fc.array(turn, { minLength: 1, maxLength: 6 }), (turns) => {
        const log = logOf().created().user("start");
        turns.forEach((t, n) => {
          const ids = Array.from({ length: t.tools }, (_, k) => `t${n}_${k}`);
          log.agent([t.text, ...ids.map((id) => ({ tool: "bash", id }))]);
          for (const id of ids) log.started(id);
          for (const id of t.resultOrder ? ids : [...ids].reverse()) log.result(id, `out ${id}`);
          if (t.userAfter === "message") log.user(`more ${n}`);
          if (t.userAfter === "interrupt") log.interrupt();
        });
        for (let cut = 2; cut <= log.events.length; cut++) {
          const fold = createSessionFold("s", log.events.slice(0, cut));
          const conversation = fold.conversation();
          expectValid(conversation);
          if (fold.next() === "model") expect(conversation.at(-1)?.role).toBe("user");
        }
      }),
    );
  });
});
