import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { lastToolResults, repoRoot, scriptTurns, toolPairingProblems } from "@reins/testkit";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { grpcTarget } from "./support/grpc-js-client.js";
import { startHarnessStack } from "./support/harness-stack.js";
import { listProtoFiles, protoRoot } from "./support/protos.js";

// A Python application with stubs generated from proto/ (protoc + grpc_python_plugin, Debian's
// grpcio) runs a whole session, tool calls in real containers included, through RunSession.

interface RunResult {
  items: Array<{ event?: string; seq?: string; delta?: string; turn?: number }>;
  text: Record<string, string>;
  events: Array<Record<string, unknown>>;
  error?: { code: string; message: string };
}

async function generateStubs(): Promise<AsyncDisposable & { dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "reins-py-run-"));
  try {
    await execa(
      "protoc",
      [
        `-I${protoRoot}`,
        `--python_out=${dir}`,
        `--grpc_out=${dir}`,
        "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
        ...listProtoFiles(),
      ],
      { cwd: protoRoot },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

async function runFromPython(target: string, genDir: string, request: object): Promise<RunResult> {
  const { stdout } = await execa("/usr/bin/python3", [path.join(repoRoot, "test/python/run_session.py")], {
    input: JSON.stringify({ target, gen_dir: genDir, request }),
    timeout: 90_000,
  });
  return JSON.parse(stdout) as RunResult;
}

describe("RunSession from a Python grpcio client", { timeout: 120_000 }, () => {
  it("streams a whole session with a tool call, live text included, until it is idle", async () => {
    await using stubs = await generateStubs();
    await using stack = await startHarnessStack(
      scriptTurns([
        {
          content: [
            { type: "text", text: "Let me count the primes below 20." },
            { type: "tool_use", name: "sh", input: { command: "for n in 2 3 5 7 11 13 17 19; do echo $n; done" } },
          ],
        },
        { content: [{ type: "text", text: "There are 8 primes below 20." }] },
      ]),
    );
    const result = await runFromPython(grpcTarget(stack.harness().url), stubs.dir, {
      config: { model: "claude-test", tools: ["sh"] },
      message: "How many primes are there below 20?",
      title: "from python",
    });
    expect(result.error).toBeUndefined();
    const names = result.items.flatMap((i) => (i.event ? [i.event] : []));
    expect(names).toEqual([
      "session.created",
      "user.message",
      "session.status",
      "agent.message",
      "span.model_request",
      "agent.tool_use_started",
      "agent.tool_result",
      "agent.message",
      "span.model_request",
      "session.status",
    ]);
    expect(result.text).toEqual({ "1": "Let me count the primes below 20.", "2": "There are 8 primes below 20." });
    const toolResult = result.events.find((e) => "agentToolResult" in e)?.agentToolResult as { output: string };
    expect(toolResult.output.trim().split(/\s+/)).toEqual(["2", "3", "5", "7", "11", "13", "17", "19"]);
    const status = result.events.at(-1)?.sessionStatus as { state: string; stopReason: string };
    expect(status).toMatchObject({ state: "RUN_STATE_IDLE", stopReason: "STOP_REASON_END_TURN" });
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("implements a custom tool: answers each call with SendCustomToolResult until the session ends", async () => {
    await using stubs = await generateStubs();
    await using stack = await startHarnessStack(
      scriptTurns([
        { content: [{ type: "tool_use", id: "toolu_wc1", name: "word_count", input: { text: "one two three" } }] },
        { content: [{ type: "tool_use", id: "toolu_wc2", name: "word_count", input: { text: "four five" } }] },
        (request) => ({
          content: [
            {
              type: "text",
              text: `counts: ${lastToolResults(request.body)
                .map((r) => r.content)
                .join(",")}`,
            },
          ],
        }),
      ]),
    );
    const { stdout } = await execa("/usr/bin/python3", [path.join(repoRoot, "test/python/custom_tool.py")], {
      input: JSON.stringify({
        harness: grpcTarget(stack.harness().url),
        session: grpcTarget(stack.session.url),
        gen_dir: stubs.dir,
        request: {
          sessionId: "py-custom",
          message: "Count the words.",
          config: {
            model: "claude-test",
            customTools: [
              {
                name: "word_count",
                description: "Counts the words of a text, in the client.",
                inputSchemaJson: JSON.stringify({ type: "object", properties: { text: { type: "string" } } }),
              },
            ],
          },
        },
      }),
      timeout: 90_000,
    });
    const result = JSON.parse(stdout) as {
      calls: Array<{ tool_use_id: string; output: string }>;
      events: string[];
      stop_reason: string;
      error?: unknown;
    };
    expect(result.error).toBeUndefined();
    expect(result.calls.map((c) => [c.tool_use_id, c.output])).toEqual([
      ["toolu_wc1", "3"],
      ["toolu_wc2", "2"],
    ]);
    expect(result.stop_reason).toBe("STOP_REASON_END_TURN");
    expect(result.events.filter((n) => n === "EVENT_TYPE_AGENT_CUSTOM_TOOL_USE")).toHaveLength(2);
    expect(result.events.filter((n) => n === "EVENT_TYPE_USER_CUSTOM_TOOL_RESULT")).toHaveLength(2);
    // The harness never ran the client's tool.
    expect(result.events).not.toContain("EVENT_TYPE_AGENT_TOOL_USE_STARTED");
    expect(lastToolResults(stack.fake.requests.at(-1)?.body)).toEqual([
      { toolUseId: "toolu_wc2", content: "2", isError: false },
    ]);
    expect((await stack.events("py-custom")).map((e) => e.payload.case)).toHaveLength(result.events.length);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });

  it("gets INVALID_ARGUMENT with the reason for a bad request", async () => {
    await using stubs = await generateStubs();
    await using stack = await startHarnessStack(scriptTurns([]));
    const result = await runFromPython(grpcTarget(stack.harness().url), stubs.dir, {
      config: { model: "claude-test" },
      message: "",
    });
    expect(result.error).toEqual({ code: "INVALID_ARGUMENT", message: "message must not be empty" });
  });
});
