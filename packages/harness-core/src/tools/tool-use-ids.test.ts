import { create } from "@bufbuild/protobuf";
import { AgentConfigSchema, type Event, RunState, StopReason } from "@reins/proto";
import { lastToolResults, scriptTurns } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import type { ModelResponse } from "../model/index.js";
import { logProblems, toolPairingProblems } from "../testing/assertions.js";
import { startLoopEnv } from "../testing/loop-env.js";
import { uniqueToolUseIds } from "./tool-use-ids.js";

const config = create(AgentConfigSchema, { model: "claude-test", systemPrompt: "Be brief.", tools: ["bash"] });

const toolUse = (id: string, command: string) => ({ type: "tool_use" as const, id, name: "bash", input: { command } });

function answer(content: ModelResponse["content"]): ModelResponse {
  return {
    messageId: "msg_1",
    content,
    stopReason: "tool_use",
    model: "claude-test",
    attempts: 1,
    latencyMs: 1,
    timeToFirstTokenMs: 1,
    usage: { inputTokens: 1, outputTokens: 1, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
    costUsd: 0,
    requestId: "req_1",
  };
}

describe("uniqueToolUseIds", () => {
  it("renames a tool_use id repeated in the answer or taken by an earlier turn, keeping order and inputs", () => {
    const taken = new Set(["toolu_old", "toolu_a_2"]);
    const response = answer([
      { type: "text", text: "three calls" },
      toolUse("toolu_a", "one"),
      toolUse("toolu_a", "two"),
      toolUse("toolu_old", "three"),
      toolUse("toolu_b", "four"),
    ]);
    const unique = uniqueToolUseIds(response, (id) => taken.has(id));
    expect(unique.renamed).toEqual([
      ["toolu_a", "toolu_a_3"],
      ["toolu_old", "toolu_old_2"],
    ]);
    expect(unique.response.content).toEqual([
      { type: "text", text: "three calls" },
      toolUse("toolu_a", "one"),
      toolUse("toolu_a_3", "two"),
      toolUse("toolu_old_2", "three"),
      toolUse("toolu_b", "four"),
    ]);
  });

  it("returns an answer without repeats as it is", () => {
    const response = answer([toolUse("toolu_a", "one"), toolUse("toolu_b", "two")]);
    expect(uniqueToolUseIds(response, () => false)).toEqual({ response, renamed: [] });
  });
});

function toolUseIds(events: readonly Event[]): string[] {
  return events.flatMap((e) =>
    e.payload.case === "agentMessage"
      ? e.payload.value.content.flatMap((b) => (b.block.case === "toolUse" ? [b.block.value.id] : []))
      : [],
  );
}

describe("the agent loop, given tool_use ids the model repeats", () => {
  it("records them renamed, runs every call once, and the session finishes", async () => {
    await using env = await startLoopEnv(
      scriptTurns([
        // Two blocks of one id in one answer, then the same id again in the next turn.
        { content: [toolUse("toolu_same", "echo one"), toolUse("toolu_same", "echo two")] },
        (request) => ({
          content: [
            {
              type: "text",
              text: `Got ${lastToolResults(request.body)
                .map((r) => r.content)
                .join(" and ")}.`,
            },
            toolUse("toolu_same", "echo three"),
          ],
        }),
        { content: [{ type: "text", text: "All done." }] },
      ]),
    );
    await env.harness.startSession({ sessionId: "dup-ids", config, message: "go" });
    const events = await env.settled("dup-ids");

    const last = events.at(-1)?.payload;
    expect(last?.case === "sessionStatus" && [last.value.state, last.value.stopReason]).toEqual([
      RunState.IDLE,
      StopReason.END_TURN,
    ]);
    expect(logProblems(events)).toEqual([]);
    expect(toolUseIds(events)).toEqual(["toolu_same", "toolu_same_2", "toolu_same_3"]);
    const results = events.flatMap((e) => (e.payload.case === "agentToolResult" ? [e.payload.value] : []));
    expect(results.map((r) => [r.toolUseId, r.output]).sort()).toEqual([
      ["toolu_same", "ran echo one"],
      ["toolu_same_2", "ran echo two"],
      ["toolu_same_3", "ran echo three"],
    ]);
    expect(events.filter((e) => e.payload.case === "agentToolUseStarted")).toHaveLength(3);
    expect(env.executor.calls.map((c) => JSON.parse(c.inputJson).command).sort()).toEqual([
      "echo one",
      "echo three",
      "echo two",
    ]);
    // The model saw every call answered under its recorded id, and every request was valid.
    const requests = env.fake.answered();
    expect(requests).toHaveLength(3);
    expect(lastToolResults(requests[1]?.body).map((r) => r.content)).toEqual(["ran echo one", "ran echo two"]);
    expect(toolPairingProblems(requests)).toEqual([]);
    expect(env.fake.requests.every((r) => r.status === 200)).toBe(true);
  });
});
