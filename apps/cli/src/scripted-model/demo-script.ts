import {
  assistantTurns,
  type CapturedRequest,
  type FakeBlock,
  type FakeScript,
  type FakeTurn,
  lastToolResults,
} from "@reins/fake-anthropic";
import { type Program, programFor } from "./programs.js";

const intro = "I am the scripted model that stands in for Claude when no ANTHROPIC_API_KEY is set.";
// Small pauses between streamed pieces, so live text is visible as it arrives.
const chunkDelayMs = 12;

function toolNames(request: CapturedRequest): Set<string> {
  const tools = request.body?.tools;
  if (!Array.isArray(tools)) return new Set();
  return new Set(tools.map((t) => (t as { name?: unknown }).name).filter((n): n is string => typeof n === "string"));
}

function firstUserText(request: CapturedRequest): string {
  const messages = request.body?.messages;
  const first = Array.isArray(messages) ? (messages[0] as { content?: unknown } | undefined) : undefined;
  const content = first?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((b): b is { type: "text"; text: string } => (b as { type?: unknown }).type === "text")
    .map((b) => b.text)
    .join("\n");
}

const say = (text: string): FakeBlock => ({ type: "text", text });
const turn = (...content: FakeBlock[]): FakeTurn => ({ content, chunkDelayMs });

/** The closing answer: what the program printed, from the last tool results. */
function report(request: CapturedRequest, program: Program): FakeTurn {
  const result = lastToolResults(request.body)[0];
  if (!result) return turn(say("I have nothing to report: no tool ran."));
  const output = result.content.trim() || "(no output)";
  if (result.isError) {
    return turn(say(`Running ${program.intent} failed in the sandbox:\n\n\`\`\`\n${output}\n\`\`\``));
  }
  return turn(
    say(`I wrote ${program.intent} and ran it in a fresh sandbox container. It printed:\n\n\`\`\`\n${output}\n\`\`\``),
  );
}

/**
 * A deterministic stand-in for Claude that makes real tool calls: it writes a
 * Python program for the task, runs it in the sandbox, and reports the output.
 * With write_file and bash it takes three turns (write; run, listing the
 * workspace in parallel; report), with python alone two, with no tools one.
 * Turns are chosen by the conversation's position, so a resumed session gets
 * the same answers.
 */
export function createDemoScript(): FakeScript {
  return (request) => {
    const tools = toolNames(request);
    const program = programFor(firstUserText(request));
    const position = assistantTurns(request.body);

    if (tools.has("write_file") && tools.has("bash")) {
      if (position === 0) {
        return turn(say(`${intro} I'll write ${program.intent} to main.py, run it, and report what it prints.\n`), {
          type: "tool_use",
          name: "write_file",
          input: { path: "main.py", content: program.source },
        });
      }
      if (position === 1) {
        const run: FakeBlock = { type: "tool_use", name: "bash", input: { command: "python3 main.py" } };
        const list: FakeBlock[] = tools.has("list_files") ? [{ type: "tool_use", name: "list_files", input: {} }] : [];
        return turn(say("Now I'll run it.\n"), run, ...list);
      }
      return report(request, program);
    }
    if (tools.has("python")) {
      if (position === 0) {
        return turn(say(`${intro} I'll run ${program.intent} and report what it prints.\n`), {
          type: "tool_use",
          name: "python",
          input: { code: program.source },
        });
      }
      return report(request, program);
    }
    return turn(
      say(
        `${intro} This session has no tools, so I cannot run anything. Give it tools (reins run --tools bash,write_file) and I will write ${program.intent} and run it.`,
      ),
    );
  };
}
