import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Event, EventSchema, RunState, StopReason } from "@reins/proto";
import picocolors from "picocolors";
import { describe, expect, it } from "vitest";
import { renderEvent } from "./event-lines.js";
import { formatAge, formatCost, formatMs } from "./format.js";
import { eventJson } from "./json-lines.js";
import { previewInput, truncateOutput } from "./truncate.js";

const colors = picocolors.createColors(false);
const options = { colors, width: 100, outputLines: 5 };
const time = timestampFromMs(Date.UTC(2026, 0, 2, 3, 4, 5, 678));

function event(seq: number, payload: MessageInitShape<typeof EventSchema>["payload"]): Event {
  return create(EventSchema, { id: `e${seq}`, seq: BigInt(seq), time, payload });
}
const render = (e: Event) => renderEvent(e, options);

describe("renderEvent", () => {
  it("session.placed names the host, its address and why; a move names the host before", () => {
    const placed = (previousExecutorId: string, reason: string) =>
      render(
        event(7, {
          case: "sessionPlaced",
          value: { executorId: "exec-2", executorAddress: "http://10.0.0.7:7003", previousExecutorId, reason },
        }),
      );
    expect(placed("", "first call")[0]).toMatch(
      /session\.placed +placed on exec-2 \(http:\/\/10\.0\.0\.7:7003\): first call$/,
    );
    expect(placed("exec-1", "executor exec-1 was lost: connect ECONNREFUSED")[0]).toContain(
      "moved from exec-1 to exec-2 (http://10.0.0.7:7003): executor exec-1 was lost: connect ECONNREFUSED",
    );
  });

  it("shows the trace id after the time with traceIds, and - for an event written untraced", () => {
    const traced = create(EventSchema, {
      ...event(4, { case: "userMessage", value: { text: "hi" } }),
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    });
    expect(renderEvent(traced, { ...options, traceIds: true })[0]).toMatch(
      /^ {3}#4 \d\d:\d\d:\d\d\.678 4bf92f3577b34da6a3ce929d0e0e4736 {2}user\.message/,
    );
    expect(
      renderEvent(event(5, { case: "userMessage", value: { text: "hi" } }), { ...options, traceIds: true })[0],
    ).toMatch(/^ {3}#5 \d\d:\d\d:\d\d\.678 - {33}user\.message/);
    expect(render(traced)[0]).not.toContain("4bf92f");
    expect(JSON.parse(eventJson(traced)).traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("session.created shows title, model, tools, limits and the system prompt", () => {
    const lines = render(
      event(1, {
        case: "sessionCreated",
        value: {
          title: "primes",
          config: {
            model: "claude-sonnet-4-5",
            tools: ["bash", "python"],
            systemPrompt: "Be brief.",
            limits: { maxTurns: 8, maxTotalTokens: 50_000n, maxWallTime: durationFromMs(90_000) },
          },
        },
      }),
    );
    expect(lines[0]).toMatch(/^ {3}#1 \d\d:\d\d:\d\d\.678 {2}session\.created/);
    expect(lines[0]).toContain('"primes"');
    expect(lines[0]).toContain(
      "claude-sonnet-4-5 · tools: bash, python · max 8 turns · budget 50000 tokens · wall 1m30s",
    );
    expect(lines[1]).toBe("    system: Be brief.");
  });

  it("user.message prints its text as the body, line by line", () => {
    const lines = render(event(2, { case: "userMessage", value: { text: "first line\nsecond line" } }));
    expect(lines[0]).toMatch(/user\.message$/);
    expect(lines.slice(1)).toEqual(["    first line", "    second line"]);
  });

  it("user.interrupt shows the reason", () => {
    const lines = render(event(3, { case: "userInterrupt", value: { reason: "wrong dir" } }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/user\.interrupt\s+wrong dir$/);
  });

  it("agent.message shows stop reason, usage, text, thinking and tool calls", () => {
    const lines = render(
      event(4, {
        case: "agentMessage",
        value: {
          model: "m",
          stopReason: StopReason.TOOL_USE,
          usage: { inputTokens: 1200n, outputTokens: 34n, cacheReadInputTokens: 900n, cacheCreationInputTokens: 0n },
          content: [
            { block: { case: "thinking", value: { thinking: "hmm", signature: "s" } } },
            { block: { case: "text", value: { text: "Let me run it." } } },
            { block: { case: "toolUse", value: { id: "t1", name: "bash", inputJson: '{"command":"python3 p.py"}' } } },
            { block: { case: "redactedThinking", value: { data: "x" } } },
          ],
        },
      }),
    );
    expect(lines[0]).toMatch(/agent\.message\s+tool_use {2}1,200 in · 34 out · 900 cache read$/);
    expect(lines.slice(1)).toEqual([
      "    hmm",
      "    Let me run it.",
      "    → bash python3 p.py",
      "    (redacted thinking)",
    ]);
  });

  it("agent.tool_use_started shows the tool and its input: one line, or the lines of code", () => {
    const oneLiner = render(
      event(5, {
        case: "agentToolUseStarted",
        value: { toolUseId: "t1", name: "bash", inputJson: '{"command":"ls -la"}' },
      }),
    );
    expect(oneLiner).toEqual([expect.stringMatching(/agent\.tool_use_started bash {2}ls -la$/)]);
    const code = render(
      event(5, {
        case: "agentToolUseStarted",
        value: { toolUseId: "t1", name: "python", inputJson: '{"code":"for i in range(3):\\n  print(i)"}' },
      }),
    );
    expect(code).toEqual([
      expect.stringMatching(/agent\.tool_use_started python$/),
      "    for i in range(3):",
      "      print(i)",
    ]);
    const file = render(
      event(5, {
        case: "agentToolUseStarted",
        value: { toolUseId: "t1", name: "write_file", inputJson: '{"path":"main.py","content":"a = 1\\nprint(a)\\n"}' },
      }),
    );
    expect(file).toEqual([
      expect.stringMatching(/agent\.tool_use_started write_file {2}path=main\.py$/),
      "    a = 1",
      "    print(a)",
    ]);
    const args = render(
      event(5, { case: "agentToolUseStarted", value: { toolUseId: "t1", name: "f", inputJson: '{"a":1,"b":"x y"}' } }),
    );
    expect(args).toEqual([expect.stringMatching(/agent\.tool_use_started f {2}a=1 b="x y"$/)]);
  });

  it("agent.tool_result shows outcome, exit code, duration and the output shortened", () => {
    const output = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n");
    const lines = render(
      event(6, {
        case: "agentToolResult",
        value: { toolUseId: "t1", name: "bash", output, exitCode: 0, duration: durationFromMs(1234), truncated: true },
      }),
    );
    expect(lines[0]).toMatch(/agent\.tool_result\s+bash · ok · exit 0 · 1\.2s · output truncated by executor$/);
    expect(lines.slice(1)).toEqual(["    line 1", "    line 2", "    … 16 more lines …", "    line 19", "    line 20"]);
  });

  it("an error tool_result says error and keeps the exit code", () => {
    const lines = render(
      event(7, {
        case: "agentToolResult",
        value: { toolUseId: "t1", name: "bash", output: "boom", isError: true, exitCode: 2 },
      }),
    );
    expect(lines[0]).toMatch(/bash · error · exit 2$/);
    expect(lines[1]).toBe("    boom");
  });

  it("a tool_result whose call never ran shows no exit code", () => {
    const lines = render(
      event(8, {
        case: "agentToolResult",
        value: { toolUseId: "t", name: "bash", output: "executor unavailable", isError: true, exitCode: -1 },
      }),
    );
    expect(lines[0]).toMatch(/bash · error$/);
  });

  it("a tool_result without output says so", () => {
    const lines = render(event(8, { case: "agentToolResult", value: { toolUseId: "t", output: "" } }));
    expect(lines[1]).toBe("    (no output)");
  });

  it("session.status shows state, stop reason and detail", () => {
    const running = render(event(9, { case: "sessionStatus", value: { state: RunState.RUNNING } }));
    expect(running[0]).toMatch(/session\.status\s+running$/);
    const idle = render(
      event(10, {
        case: "sessionStatus",
        value: { state: RunState.IDLE, stopReason: StopReason.MAX_TURNS, detail: "8 turns" },
      }),
    );
    expect(idle[0]).toMatch(/session\.status\s+idle · max_turns · 8 turns$/);
  });

  it("span.model_request shows latency, first token, usage, cost, retries and errors", () => {
    const lines = render(
      event(11, {
        case: "spanModelRequest",
        value: {
          model: "claude-sonnet-4-5",
          latency: durationFromMs(2500),
          timeToFirstToken: durationFromMs(310),
          usage: { inputTokens: 10n, outputTokens: 5n },
          attempts: 3,
          costUsd: 0.00123,
          error: "overloaded",
        },
      }),
    );
    expect(lines[0]).toMatch(
      /span\.model_request\s+claude-sonnet-4-5 · 2\.5s \(first token 310ms\) · 10 in · 5 out · \$0\.0012 · 3 attempts · overloaded$/,
    );
  });

  it("session.error shows kind, message and whether wake may help", () => {
    const lines = render(
      event(12, {
        case: "sessionError",
        value: { kind: "model_unavailable", message: "529 overloaded", retryable: true },
      }),
    );
    expect(lines[0]).toMatch(
      /session\.error\s+model_unavailable: 529 overloaded \(retryable: `reins wake` may continue it\)$/,
    );
  });

  it("an event without payload is still rendered", () => {
    expect(render(event(13, { case: undefined }))[0]).toMatch(/\(empty event\)\s+\(no payload\)$/);
  });

  it("colours only when asked", () => {
    const e = event(14, { case: "sessionStatus", value: { state: RunState.IDLE } });
    expect(render(e).join("")).not.toContain("\x1b[");
    expect(renderEvent(e, { ...options, colors: picocolors.createColors(true) }).join("")).toContain("\x1b[");
  });
});

describe("eventJson", () => {
  it("puts the wire name next to the canonical protobuf JSON", () => {
    const e = event(15, { case: "userMessage", value: { text: "hi" } });
    expect(JSON.parse(eventJson(e))).toEqual({
      type: "user.message",
      id: "e15",
      seq: "15",
      time: "2026-01-02T03:04:05.678Z",
      userMessage: { text: "hi" },
    });
  });
});

describe("formatting helpers", () => {
  it("truncates long output keeping head and tail, and says how much is hidden", () => {
    expect(truncateOutput("a\nb\nc", { maxLines: 5, maxLineLength: 80 })).toEqual(["a", "b", "c"]);
    expect(truncateOutput("", { maxLines: 5, maxLineLength: 80 })).toEqual([]);
    expect(truncateOutput("x".repeat(12), { maxLines: 5, maxLineLength: 5 })).toEqual(["xxxxx", "xxxxx", "xx"]);
    expect(truncateOutput("1\n2\n3\n4", { maxLines: 2, maxLineLength: 80 })).toEqual(["1", "… 3 more lines …"]);
  });

  it("previews tool input: a lone string field as itself, anything else as compact JSON", () => {
    expect(previewInput('{"command":"ls -la"}', 50)).toBe("ls -la");
    expect(previewInput('{"a":1,"b":"x"}', 50)).toBe('{"a":1,"b":"x"}');
    expect(previewInput("not json", 50)).toBe("not json");
    expect(previewInput('{"command":"abcdefghij"}', 5)).toBe("abcd…");
  });

  it("formats costs, durations and ages", () => {
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(0.0042)).toBe("$0.0042");
    expect(formatCost(1.234)).toBe("$1.23");
    expect(formatMs(12)).toBe("12ms");
    expect(formatMs(75_000)).toBe("1m15s");
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    expect(formatAge(time, now)).toBe("just now");
    expect(formatAge(time, now + 5 * 60_000)).toBe("5m ago");
    expect(formatAge(time, now + 30 * 86_400_000)).toBe("2026-01-02");
  });
});
