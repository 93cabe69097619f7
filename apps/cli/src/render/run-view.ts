import type { Event, Session, TextDelta } from "@reins/proto";
import { RunState, StopReason, ToolConfirmationResult } from "@reins/proto";
import ora, { type Ora } from "ora";
import type { Terminal } from "../terminal.js";
import { compactionLine } from "./compaction-line.js";
import { toolOutputLines, toolResultSummary } from "./event-lines.js";
import { formatCost, formatMs, formatUsage, stopReasonName } from "./format.js";
import { placementLine } from "./placement-line.js";
import { inputView } from "./truncate.js";

export interface RunViewOptions {
  /** Lines of tool output to show per result. */
  readonly outputLines: number;
}

/**
 * The live view of `reins run`: model text as it streams, each tool call with
 * its input and a spinner while it runs, results shortened, and a closing line
 * with usage and cost. Spinners only on a terminal; piped output gets the same
 * lines without them.
 */
export interface RunView {
  event(event: Event): void;
  delta(delta: TextDelta): void;
  /** A line for the user outside the transcript (e.g. "interrupting..."). */
  notice(text: string): void;
  /** The closing line; `session` from GetSession when it could be read. */
  finish(summary: RunSummary): void;
  /** Stops any spinner (on errors). */
  close(): void;
}

export interface RunSummary {
  readonly sessionId: string;
  readonly state: RunState;
  readonly stopReason: StopReason;
  readonly session: Session | undefined;
  readonly elapsedMs: number;
}

export function createRunView(terminal: Terminal, options: RunViewOptions): RunView {
  const c = terminal.colors;
  const render = { colors: c, width: terminal.columns, outputLines: options.outputLines };
  let spinner: Ora | undefined;
  let atLineStart = true;
  let streamedText = false;
  let inThinking = false;
  const running = new Map<string, string>();
  // Attempt of the model request whose text is on screen, per turn.
  const attempts = new Map<number, number>();

  const stopSpinner = () => {
    spinner?.stop();
    spinner = undefined;
  };
  const spin = (text: string) => {
    if (!terminal.spinners) return;
    if (spinner) {
      spinner.text = text;
      return;
    }
    spinner = ora({ text: c.dim(text), stream: terminal.out, discardStdin: false, color: "cyan" }).start();
  };
  const endLine = () => {
    if (!atLineStart) terminal.out.write("\n");
    atLineStart = true;
    inThinking = false;
  };
  const line = (text = "") => {
    stopSpinner();
    endLine();
    terminal.print(text);
  };
  const spinForTools = () => {
    const names = [...running.values()];
    if (names.length === 0) return;
    spin(names.length === 1 ? `running ${names[0]}…` : `running ${names.length} tools: ${names.join(", ")}…`);
  };

  // Until the first event, the user sees that something is happening.
  spin("starting the session…");

  return {
    delta(d) {
      if (!d.text) return;
      const shown = attempts.get(d.turn);
      attempts.set(d.turn, d.attempt);
      if (shown !== undefined && d.attempt > shown) {
        // Text already printed cannot be taken back from a scrolling terminal
        // or a pipe: say that the answer starts over instead.
        line(c.yellow(`↻ the model request was retried (attempt ${d.attempt}); its answer starts again:`));
        streamedText = false;
      }
      stopSpinner();
      if (d.thinking !== inThinking) endLine();
      inThinking = d.thinking;
      terminal.out.write(d.thinking ? c.dim(c.italic(d.text)) : d.text);
      atLineStart = d.text.endsWith("\n");
      if (!d.thinking) streamedText = true;
    },
    event(e) {
      const p = e.payload;
      switch (p.case) {
        case "sessionCreated": {
          const cfg = p.value.config;
          const tools = cfg?.tools.length ? cfg.tools.join(", ") : "no tools";
          line(c.dim(`● ${cfg?.model || "default model"} · ${tools}`));
          return;
        }
        case "userMessage":
          line(`${c.cyan("›")} ${p.value.text}`);
          return;
        case "userInterrupt":
          line(c.yellow(`■ interrupted${p.value.reason ? `: ${p.value.reason}` : ""}`));
          return;
        case "sessionStatus":
          if (p.value.state === RunState.RUNNING) spin("thinking…");
          else stopSpinner();
          return;
        case "spanModelRequest":
          if (p.value.error) line(c.red(`✖ model request failed: ${p.value.error}`));
          else if (p.value.attempts > 1) line(c.yellow(`! model request needed ${p.value.attempts} attempts`));
          return;
        case "agentMessage": {
          if (!streamedText) {
            // No live text reached us (e.g. a replay): print the message's text now.
            for (const block of p.value.content) {
              if (block.block.case === "text" && block.block.value.text) line(block.block.value.text);
            }
          }
          streamedText = false;
          stopSpinner();
          endLine();
          if (p.value.stopReason === StopReason.MAX_TOKENS) line(c.yellow("! the response hit max_tokens"));
          return;
        }
        case "agentToolUseStarted": {
          const width = Math.max(30, terminal.columns - 6 - p.value.name.length);
          const input = inputView(p.value.inputJson, { maxLines: options.outputLines, maxLineLength: width });
          line(`${c.blue("⏺")} ${c.bold(p.value.name)}${input.inline ? `  ${c.dim(input.inline)}` : ""}`);
          for (const l of input.lines) terminal.print(`  ${c.dim("┆")} ${c.dim(l)}`);
          running.set(p.value.toolUseId, p.value.name);
          spinForTools();
          return;
        }
        case "agentToolResult": {
          running.delete(p.value.toolUseId);
          const mark = p.value.isError ? c.red("✖") : c.green("✔");
          line(`  ${mark} ${toolResultSummary(p.value, c)}`);
          for (const l of toolOutputLines(p.value, render)) terminal.print(`  ${c.dim("│")} ${l}`);
          if (running.size > 0) spinForTools();
          else spin("thinking…");
          return;
        }
        case "sessionError":
          line(c.red(`✖ ${p.value.kind ? `${p.value.kind}: ` : ""}${p.value.message}`));
          return;
        case "agentCustomToolUse":
          line(`${c.blue("⏺")} ${c.bold(p.value.name)}  ${c.dim("(runs in the client)")}`);
          return;
        case "userToolConfirmation":
          if (p.value.result === ToolConfirmationResult.DENY) {
            line(`  ${c.yellow("✖")} denied${p.value.denyMessage ? `: ${p.value.denyMessage}` : ""}`);
          }
          return;
        case "userCustomToolResult":
          line(`  ${p.value.isError ? c.red("✖") : c.green("✔")} ${oneLineOf(p.value.output)}`);
          return;
        case "agentContextCompacted":
          line(c.dim(`↻ ${compactionLine(p.value)}`));
          return;
        case "sessionPlaced":
          // A move is news (the workspace is gone); the first placement is a detail.
          line(
            p.value.previousExecutorId !== ""
              ? c.yellow(`⇄ ${placementLine(p.value)}`)
              : c.dim(`⇢ ${placementLine(p.value)}`),
          );
          return;
        default:
          return;
      }
    },
    notice(text) {
      line(c.yellow(text));
    },
    finish(s) {
      stopSpinner();
      endLine();
      const reason = stopReasonName(s.stopReason) || "ended";
      const good = s.stopReason === StopReason.END_TURN || s.stopReason === StopReason.STOP_SEQUENCE;
      const parts = [good ? c.green(`✔ ${reason}`) : c.yellow(`■ ${reason}`)];
      if (s.session) {
        parts.push(`${s.session.modelRequests} model request${s.session.modelRequests === 1 ? "" : "s"}`);
        parts.push(formatUsage(s.session.usage));
        parts.push(formatCost(s.session.costUsd));
      }
      parts.push(formatMs(s.elapsedMs));
      terminal.print();
      terminal.print(parts.join(c.dim(" · ")));
      terminal.print(c.dim(`session ${s.sessionId} · reins events ${s.sessionId}`));
    },
    close() {
      stopSpinner();
      endLine();
    },
  };
}

function oneLineOf(text: string): string {
  const first = text.split("\n")[0] ?? "";
  return first.length > 100 ? `${first.slice(0, 100)}…` : first;
}
