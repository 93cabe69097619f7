import type { CapturedRequest, FakeBlock, FakeReply, FakeTurn } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { createDemoScript } from "./demo-script.js";
import { programFor } from "./programs.js";

const allTools = ["bash", "python", "read_file", "write_file", "list_files"];

function request(messages: unknown[], tools: string[] = allTools): CapturedRequest {
  return {
    index: 0,
    receivedAt: 0,
    method: "POST",
    path: "/v1/messages",
    headers: {},
    body: { model: "reins-scripted", max_tokens: 1024, messages, tools: tools.map((name) => ({ name })) },
    status: 0,
    outcome: "",
  };
}

async function answer(req: CapturedRequest): Promise<FakeTurn> {
  const reply: FakeReply = await createDemoScript()(req);
  if ("fault" in reply) throw new Error("the demo script never injects faults");
  return reply;
}

const toolUses = (turn: FakeTurn) =>
  turn.content.filter((b): b is Extract<FakeBlock, { type: "tool_use" }> => b.type === "tool_use");
const text = (turn: FakeTurn) =>
  turn.content
    .filter((b): b is Extract<FakeBlock, { type: "text" }> => b.type === "text")
    .map((b) => b.text)
    .join("");

const task = "write a Python script that prints the first 10 primes, run it, report the output";
const assistant = { role: "assistant", content: [{ type: "text", text: "..." }] };
const results = (...outputs: Array<[string, boolean?]>) => ({
  role: "user",
  content: outputs.map(([content, isError], i) => ({
    type: "tool_result",
    tool_use_id: `t${i}`,
    content,
    is_error: isError === true,
  })),
});

describe("the scripted model", () => {
  it("writes the program, runs it (listing the workspace in parallel), then reports its output", async () => {
    const first = await answer(request([{ role: "user", content: task }]));
    expect(text(first)).toContain("stands in for Claude");
    const [write] = toolUses(first);
    expect(write).toMatchObject({ name: "write_file", input: { path: "main.py" } });
    expect(String(write?.input.content)).toContain("print(*first_primes(10))");

    const second = await answer(request([{ role: "user", content: task }, assistant, results(["wrote 250 bytes"])]));
    expect(toolUses(second).map((t) => [t.name, t.input])).toEqual([
      ["bash", { command: "python3 main.py" }],
      ["list_files", {}],
    ]);

    const third = await answer(
      request([
        { role: "user", content: task },
        assistant,
        results(["wrote"]),
        assistant,
        results(["2 3 5 7 11 13 17 19 23 29\n"], ["./main.py"]),
      ]),
    );
    expect(toolUses(third)).toEqual([]);
    expect(text(third)).toContain("It printed:\n\n```\n2 3 5 7 11 13 17 19 23 29\n```");
  });

  it("says so when the program failed", async () => {
    const msgs = [{ role: "user", content: task }, assistant, results(["ok"]), assistant, results(["boom", true])];
    expect(text(await answer(request(msgs)))).toContain("failed in the sandbox:\n\n```\nboom\n```");
  });

  it("uses the python tool when it is the only way to run code, and explains when there are no tools", async () => {
    const python = await answer(request([{ role: "user", content: task }], ["python"]));
    expect(toolUses(python)).toEqual([
      expect.objectContaining({ name: "python", input: { code: expect.stringContaining("first_primes") } }),
    ]);
    const none = await answer(request([{ role: "user", content: task }], []));
    expect(toolUses(none)).toEqual([]);
    expect(text(none)).toContain("no tools");
  });

  it("picks a program by the task's keywords, with the count it names", () => {
    expect(programFor("the first 25 primes").source).toContain("first_primes(25)");
    expect(programFor("fibonacci, 12 of them").source).toContain("range(12)");
    expect(programFor('say "hi"').source).toContain('print("task:", "say \\"hi\\"")');
  });
});
