import { existsSync } from "node:fs";
import { toolPairingProblems } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApprovalStack,
  cli,
  jsonLines,
  lastAnswerText,
  startApprovalStack,
  toolResultsOf,
} from "./testing/approval-stack.js";

// `reins approve` / `reins deny` and `reins run --ask` as a user runs them: the
// built CLI against real daemons, the `sh` tool in real containers, the fake
// Messages API as the model (src/testing/approval-stack.ts). Every `sh` call is
// always_ask (--ask sh), so each run stops idle with stop reason requires_action.
let stack: ApprovalStack;
const reins = (args: string[]) => stack.reins(args);

/** `reins run --ask sh` on a pipe: the session is left waiting for its calls. */
async function waitingSession(task: string): Promise<string> {
  const sessionId = uuidv7();
  const run = await reins(["run", "--tools", "sh", "--ask", "sh", "--session-id", sessionId, task]);
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.stdout).toContain("■ requires_action");
  return sessionId;
}

/** The seq a decision line names ("... at seq N)"). */
const seqIn = (line: string) => BigInt(/at seq (\d+)\)/.exec(line)?.[1] ?? "0");

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  stack = await startApprovalStack();
}, 60_000);

afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
}, 60_000);

describe("reins approve / deny against a session waiting with requires_action", { timeout: 60_000 }, () => {
  it("run --ask on a pipe leaves the session waiting and says how to answer", async () => {
    const sessionId = uuidv7();
    const run = await reins(["run", "--tools", "sh", "--ask", "sh", "--session-id", sessionId, "say hi"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain("One call.");
    expect(run.stdout).toMatch(/■ requires_action · 1 model request · /);
    expect(run.stderr).toContain(
      `? sh {"command":"echo ran-in-a-container"} waits: reins approve ${sessionId} toolu_one  |  reins deny ${sessionId} toolu_one --reason R`,
    );
    // Nothing ran: the call waits for a person.
    expect(toolResultsOf(await stack.settled(sessionId, 0n))).toEqual([]);
  });

  it("approve <id> <tool_use_id> runs the call in a container and the model reads its output", async () => {
    const sessionId = await waitingSession("say hi");
    const approve = await reins(["approve", sessionId, "toolu_one"]);
    expect(approve.exitCode, approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(/^allowed toolu_one \(user\.tool_confirmation at seq \d+\); the session runs on$/);
    const events = await stack.settled(sessionId, seqIn(approve.stdout));
    expect(toolResultsOf(events)).toEqual([
      expect.objectContaining({ toolUseId: "toolu_one", isError: false, output: "ran-in-a-container\n" }),
    ]);
    expect(lastAnswerText(events)).toBe("Results:\ntoolu_one ok: ran-in-a-container");
  });

  it("deny <id> <tool_use_id> --reason: nothing runs, the model reads the reason as an error result", async () => {
    const sessionId = await waitingSession("say hi");
    const deny = await reins(["deny", sessionId, "toolu_one", "--reason", "not on production"]);
    expect(deny.exitCode, deny.stderr).toBe(0);
    expect(deny.stdout).toMatch(/^denied toolu_one \(user\.tool_confirmation at seq \d+\); the session runs on$/);
    const events = await stack.settled(sessionId, seqIn(deny.stdout));
    expect(lastAnswerText(events)).toBe("Results:\ntoolu_one error: not on production");
    // No container was asked for it.
    expect(events.some((e) => e.payload.case === "agentToolUseStarted")).toBe(false);
  });

  it("approve without an id allows every waiting call; --json prints one line per decision", async () => {
    const sessionId = await waitingSession("[two] both");
    const approve = await reins(["approve", sessionId, "--json"]);
    expect(approve.exitCode, approve.stderr).toBe(0);
    const lines = jsonLines(approve.stdout);
    expect(lines).toEqual([
      {
        type: "tool_confirmation",
        sessionId,
        toolUseId: "toolu_a",
        result: "allow",
        seq: expect.stringMatching(/^\d+$/),
        pendingToolUseIds: ["toolu_b"],
      },
      expect.objectContaining({ toolUseId: "toolu_b", result: "allow", pendingToolUseIds: [] }),
    ]);
    const events = await stack.settled(sessionId, BigInt(lines[1]?.seq as string));
    expect(lastAnswerText(events)).toBe("Results:\ntoolu_a ok: first-call\ntoolu_b ok: second-call");
  });

  it("deny without an id denies every waiting call with the reason", async () => {
    const sessionId = await waitingSession("[two] both");
    const deny = await reins(["deny", sessionId, "--reason", "no shell today", "--json"]);
    expect(deny.exitCode, deny.stderr).toBe(0);
    const lines = jsonLines(deny.stdout);
    expect(lines.map((l) => [l.toolUseId, l.result])).toEqual([
      ["toolu_a", "deny"],
      ["toolu_b", "deny"],
    ]);
    const events = await stack.settled(sessionId, BigInt(lines[1]?.seq as string));
    expect(lastAnswerText(events)).toBe("Results:\ntoolu_a error: no shell today\ntoolu_b error: no shell today");
  });

  it("an unknown tool_use id, a call already decided and a session that waits for nothing: exit 1, one line", async () => {
    const sessionId = await waitingSession("say hi");
    const unknown = await reins(["approve", sessionId, "toolu_nope"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toBe(`error: NOT_FOUND: session ${sessionId} has no tool call toolu_nope`);

    const deny = await reins(["deny", sessionId, "toolu_one"]);
    expect(deny.exitCode, deny.stderr).toBe(0);
    await stack.settled(sessionId, seqIn(deny.stdout));
    const again = await reins(["approve", sessionId, "toolu_one"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe("error: FAILED_PRECONDITION: tool call toolu_one was already denied");

    const none = await reins(["approve", sessionId]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe(`error: session ${sessionId} waits for no tool call confirmation`);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
  });
});

describe("reins run --ask on a terminal", { timeout: 60_000 }, () => {
  it("shows the call with its input and asks y/N: y runs it, and the transcript shows it", async () => {
    const run = stack.reinsOnTerminal(["run", "--tools", "sh", "--ask", "sh", "say hi"]);
    try {
      await run.answer('sh {"command":"echo ran-in-a-container"}', "y");
      const { exitCode, output } = await run.exit();
      expect(exitCode, output).toBe(0);
      expect(output).toMatch(/✔ sh · ok · exit 0 · .*\n +│ ran-in-a-container\n/);
      expect(output).toContain("Results:\ntoolu_one ok: ran-in-a-container");
      expect(output).toMatch(/✔ end_turn · 2 model requests · /);
    } finally {
      run.kill();
    }
  });

  it("n denies it: nothing runs and the model reads the denial", async () => {
    const run = stack.reinsOnTerminal(["run", "--tools", "sh", "--ask", "sh", "say hi"]);
    try {
      await run.answer('sh {"command":"echo ran-in-a-container"}', "n");
      const { exitCode, output } = await run.exit();
      expect(exitCode, output).toBe(0);
      expect(output).toContain("✖ denied: the user denied this call at the terminal");
      expect(output).toContain("Results:\ntoolu_one error: the user denied this call at the terminal");
      expect(output).not.toContain("ran-in-a-container\n");
      expect(output).toMatch(/✔ end_turn · 2 model requests · /);
    } finally {
      run.kill();
    }
  });

  it("two calls of one turn: each is asked, then the run goes on to its end", async () => {
    const run = stack.reinsOnTerminal(["run", "--tools", "sh", "--ask", "sh", "[two] both"]);
    try {
      await run.answer('sh {"command":"echo first-call"}', "y");
      await run.answer('sh {"command":"echo second-call"}', "n");
      const { exitCode, output } = await run.exit();
      expect(exitCode, output).toBe(0);
      expect(output).toContain("✖ denied: the user denied this call at the terminal\n⏺ sh  echo first-call\n");
      expect(output).toContain("│ first-call");
      expect(output).toContain(
        "Results:\ntoolu_a ok: first-call\ntoolu_b error: the user denied this call at the terminal",
      );
      expect(output).toMatch(/✔ end_turn · 2 model requests · /);
    } finally {
      run.kill();
    }
  });

  it("--json prints the requires_action line and asks nothing", async () => {
    const sessionId = uuidv7();
    const run = stack.reinsOnTerminal([
      "run",
      "--json",
      "--tools",
      "sh",
      "--ask",
      "sh",
      "--session-id",
      sessionId,
      "say hi",
    ]);
    try {
      const { exitCode, output } = await run.exit();
      expect(exitCode, output).toBe(0);
      expect(output).not.toContain("[y/N]");
      const lines = jsonLines(output);
      expect(lines.at(-2)).toMatchObject({ type: "session", stopReason: "STOP_REASON_REQUIRES_ACTION" });
      expect(lines.at(-1)).toEqual({
        type: "requires_action",
        sessionId,
        pending: [
          { toolUseId: "toolu_one", name: "sh", input: { command: "echo ran-in-a-container" }, kind: "confirm" },
        ],
      });
    } finally {
      run.kill();
    }
  });
});
