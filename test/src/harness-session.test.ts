import { Code, ConnectError } from "@connectrpc/connect";
import { createSessionFold, outcomeUnknown } from "@reins/harness-core";
import { type Event, eventNameOf, RunState, StopReason } from "@reins/proto";
import { type FakeScript, lastToolResults, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { type HarnessStack, startHarnessStack } from "./support/harness-stack.js";
import { lastStatus } from "./support/session-status.js";

// Whole-stack sessions: harness, session and executor daemons as real processes,
// real nats-server, real Docker containers, the real Anthropic SDK against the
// fake Messages API. Tool ids are fixed in the script so that transcripts of
// different runs compare equal.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh", "wait"] };

const script: FakeScript = scriptTurns([
  {
    content: [
      { type: "text", text: "Running two commands in parallel." },
      { type: "tool_use", id: "toolu_one", name: "sh", input: { command: "echo one" } },
      { type: "tool_use", id: "toolu_two", name: "sh", input: { command: "sleep 0.3; echo two >&2; exit 3" } },
    ],
  },
  {
    content: [
      { type: "text", text: "Now something safe to repeat." },
      { type: "tool_use", id: "toolu_three", name: "wait", input: { command: "echo three" } },
    ],
  },
  { content: [{ type: "text", text: "All done." }] },
]);

const transcript = (sessionId: string, events: readonly Event[]) => createSessionFold(sessionId, events).conversation();

function logProblems(events: readonly Event[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  events.forEach((event, i) => {
    if (ids.has(event.id)) problems.push(`duplicate event id ${event.id}`);
    ids.add(event.id);
    if (event.seq !== BigInt(i + 1)) problems.push(`event ${i} has seq ${event.seq}`);
  });
  return problems;
}

// The tool results of a transcript, by tool_use id.
function resultsOf(sessionId: string, events: readonly Event[]): Record<string, string> {
  const results: Record<string, string> = {};
  for (const message of transcript(sessionId, events)) {
    for (const block of message.content) if (block.type === "tool_result") results[block.tool_use_id] = block.content;
  }
  return results;
}

// Real containers on a shared, busy machine: generous time per test.
describe("a session through the whole stack", { timeout: 120_000 }, () => {
  it("runs several turns with parallel tool calls in real containers; each tool_use is followed by its tool_result", async () => {
    await using stack = await startHarnessStack(script);
    const { sessionId } = await stack.client().startSession({ config, message: "go" });
    const events = await stack.settled(sessionId);

    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(logProblems(events)).toEqual([]);
    const requests = stack.fake.answered();
    expect(requests).toHaveLength(3);
    expect(stack.fake.requests.every((r) => r.status === 200)).toBe(true);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
    const [one, two] = lastToolResults(requests[1]?.body);
    expect(one).toMatchObject({ toolUseId: "toolu_one", isError: false });
    expect(one?.content).toContain("one");
    // A failing command is an error result the model reads, not a failed session.
    expect(two).toMatchObject({ toolUseId: "toolu_two", isError: true });
    expect(two?.content).toContain("two");
    expect(two?.content).toContain("3");
    expect(lastToolResults(requests[2]?.body)[0]?.content).toContain("three");

    const { session } = await stack.sessions.getSession({ sessionId });
    expect(session?.modelRequests).toBe(3);
    expect(session?.costUsd).toBeGreaterThan(0);
  });

  describe("SIGKILL of the harness process, then Wake on a new one", () => {
    async function crashAt(stack: HarnessStack, point: string) {
      const reference = await (async () => {
        const { sessionId } = await stack.client().startSession({ config, message: "go" });
        return { sessionId, events: await stack.settled(sessionId) };
      })();
      const doomed = await stack.startHarness({ REINS_FAULT_INJECTION: "1", REINS_FAULT_CRASH_AFTER: point });
      const { sessionId } = await stack.client().startSession({ config, message: "go" });
      await doomed.exited;
      expect(doomed.output.join("\n")).toContain("fault injection: crashing now");
      const before = await stack.events(sessionId);

      await stack.startHarness();
      const { lastSeq } = await stack.client().wake({ sessionId });
      expect(lastSeq).toBe(before.at(-1)?.seq);
      const after = await stack.settled(sessionId, lastSeq);
      return { reference, before, after, sessionId };
    }

    for (const point of ["agent.message:1", "agent.tool_use_started:1", "agent.tool_result:1"]) {
      it(`after ${point.split(":")[0]}: same transcript, no duplicate events, cut calls 'interrupted; outcome unknown'`, async () => {
        await using stack = await startHarnessStack(script);
        const { reference, before, after, sessionId } = await crashAt(stack, point);
        expect(lastStatus(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
        // Nothing written before the crash changed, and nothing is duplicated.
        expect(after.slice(0, before.length)).toEqual(before);
        expect(logProblems(after)).toEqual([]);
        expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
        expect(stack.fake.requests.every((r) => r.status === 200)).toBe(true);

        // The transcript is the crash-free one, except for calls whose outcome the crash hid.
        const expected = resultsOf(reference.sessionId, reference.events);
        const got = resultsOf(sessionId, after);
        expect(Object.keys(got)).toEqual(Object.keys(expected));
        const unknown = Object.keys(got).filter((id) => got[id] === outcomeUnknown);
        for (const id of Object.keys(got)) if (!unknown.includes(id)) expect(got[id]).toBe(expected[id]);
        const strip = (events: readonly Event[], id: string) =>
          transcript(id, events).map((m) => ({
            role: m.role,
            content: m.content.map((b) => (b.type === "tool_result" ? { ...b, content: "", is_error: false } : b)),
          }));
        expect(strip(after, sessionId)).toEqual(strip(reference.events, reference.sessionId));

        const startedBefore = before.filter((e) => eventNameOf(e) === "agent.tool_use_started").length;
        const resultsBefore = before.filter((e) => eventNameOf(e) === "agent.tool_result").length;
        if (point.startsWith("agent.tool_result")) {
          expect(resultsBefore).toBeGreaterThan(0);
          expect(unknown.length).toBe(2 - resultsBefore);
        } else {
          // The answer and its call intents are written together: both calls were cut.
          expect(startedBefore).toBe(2);
          expect(unknown.sort()).toEqual(["toolu_one", "toolu_two"]);
        }
      });
    }

    it("re-runs a cut call of an idempotent tool instead of reporting it unknown", async () => {
      await using stack = await startHarnessStack(script);
      const { reference, after, sessionId } = await crashAt(stack, "agent.tool_use_started:3");
      expect(resultsOf(sessionId, after).toolu_three).toBe(
        resultsOf(reference.sessionId, reference.events).toolu_three,
      );
      expect(lastStatus(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    });
  });

  it("turns an executor that is down into error results, and the session finishes", async () => {
    await using stack = await startHarnessStack(script);
    await stack.executor.kill("SIGKILL");
    // Tool definitions are recorded in the session, so it starts without the executor.
    const { sessionId } = await stack.client().startSession({
      config: {
        model: "claude-test",
        toolDefinitions: [
          { name: "sh", inputSchemaJson: '{"type":"object"}' },
          { name: "wait", inputSchemaJson: '{"type":"object"}', idempotent: true },
        ],
      },
      message: "go",
    });
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const results = Object.values(resultsOf(sessionId, events));
    expect(results).toHaveLength(3);
    for (const output of results) expect(output).toMatch(/executor at .* is unavailable/);
    const [code] = await stack
      .client()
      .startSession({ config, message: "needs the catalog" })
      .then(
        () => [undefined],
        (err: unknown) => [ConnectError.from(err).code],
      );
    expect(code).toBe(Code.Unavailable);
  });

  it("ends at its limits: wall time with a container still running, then max turns", async () => {
    await using stack = await startHarnessStack(
      scriptTurns([], { content: [{ type: "tool_use", name: "sh", input: { command: "sleep 60" } }] }),
    );
    const turns = await stack.client().startSession({
      config: { ...config, limits: { maxWallTime: { seconds: 3n } } },
      message: "go",
    });
    const events = await stack.settled(turns.sessionId);
    expect(lastStatus(events)).toEqual([RunState.TERMINATED, StopReason.BUDGET_REACHED]);
    const result = events.find((e) => e.payload.case === "agentToolResult")?.payload.value;
    expect(result).toMatchObject({ isError: true, output: expect.stringContaining("wall time limit of 3 s reached") });
    expect(events.filter((e) => e.payload.case === "agentMessage")).toHaveLength(1);

    stack.fake.setScript(
      scriptTurns([], { content: [{ type: "tool_use", name: "sh", input: { command: "echo again" } }] }),
    );
    const max = await stack.client().startSession({ config: { ...config, limits: { maxTurns: 2 } }, message: "go" });
    const maxed = await stack.settled(max.sessionId);
    expect(lastStatus(maxed)).toEqual([RunState.TERMINATED, StopReason.MAX_TURNS]);
    expect(maxed.filter((e) => e.payload.case === "agentToolResult")).toHaveLength(2);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("Interrupt cancels the container of the call in flight and leaves the session idle", async () => {
    await using stack = await startHarnessStack(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_long", name: "sh", input: { command: "sleep 60" } }] },
        { content: [{ type: "text", text: "Understood." }] },
      ]),
    );
    const { sessionId } = await stack.client().startSession({ config, message: "go" });
    // The call is in flight once its intent is in the log.
    const leave = new AbortController();
    for await (const { event } of stack.sessions.streamEvents({ sessionId }, { signal: leave.signal })) {
      if (event && eventNameOf(event) === "agent.tool_use_started") break;
    }
    leave.abort();
    await stack.client().interrupt({ sessionId, reason: "too slow" });
    const events = await stack.events(sessionId);
    expect(events.map(eventNameOf).slice(-3)).toEqual(["agent.tool_result", "user.interrupt", "session.status"]);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.INTERRUPTED]);
    expect(resultsOf(sessionId, events).toolu_long).toBe(outcomeUnknown);

    const { seq } = await stack.client().sendMessage({ sessionId, message: "fine, stop there" });
    const after = await stack.settled(sessionId, seq);
    expect(lastStatus(after)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });
});
