import type {
  AgentMessage,
  AgentToolResult,
  Event,
  SessionCreated,
  SessionError,
  SessionStatus,
  SpanModelRequest,
} from "@reins/proto";
import { eventNameOf, RunState, StopReason, ToolConfirmationResult } from "@reins/proto";
import type { Colors } from "../terminal.js";
import { compactionLine } from "./compaction-line.js";
import { formatClock, formatCost, formatDuration, formatUsage, runStateName, stopReasonName } from "./format.js";
import { placementLine } from "./placement-line.js";
import { inputView, oneLine, previewInput, truncateOutput } from "./truncate.js";

export interface RenderOptions {
  readonly colors: Colors;
  /** Terminal width, for one-line previews. */
  readonly width: number;
  /** Lines of tool output to show (head + tail); Infinity shows everything. */
  readonly outputLines: number;
  /** Shows each event's trace id after its time ("-" when it was written untraced), to look the trace up. */
  readonly traceIds?: boolean;
}

const indent = "    ";
const nameWidth = 22;

/**
 * Human rendering of one log event: a header line (seq, time, type, summary)
 * and, for events that carry text, indented body lines. Pure, so every event
 * type is covered by unit tests.
 */
export function renderEvent(event: Event, options: RenderOptions): string[] {
  const c = options.colors;
  const name = eventNameOf(event) || "(empty event)";
  const trace = options.traceIds ? ` ${c.dim((event.traceId || "-").padEnd(32))}` : "";
  const head = `${c.dim(`#${event.seq}`.padStart(5))} ${c.dim(formatClock(event.time))}${trace}  ${colorName(name, c)(name.padEnd(nameWidth))}`;
  const { summary, body } = describe(event, options);
  return [summary ? `${head} ${summary}` : head.trimEnd(), ...body.map((l) => `${indent}${l}`)];
}

function colorName(name: string, c: Colors): (s: string) => string {
  if (name.startsWith("user.")) return c.cyan;
  if (name === "agent.message") return c.magenta;
  if (name.startsWith("agent.")) return c.blue;
  if (name === "session.error") return c.red;
  if (name.startsWith("span.")) return c.gray;
  return c.green;
}

interface Described {
  summary: string;
  body: string[];
}

function describe(event: Event, options: RenderOptions): Described {
  const p = event.payload;
  switch (p.case) {
    case "sessionCreated":
      return sessionCreated(p.value, options);
    case "userMessage":
      return { summary: "", body: p.value.text.split("\n") };
    case "userInterrupt":
      return { summary: p.value.reason ? options.colors.yellow(p.value.reason) : "", body: [] };
    case "agentMessage":
      return agentMessage(p.value, options);
    case "agentToolUseStarted": {
      const maxLines = Number.isFinite(options.outputLines) ? options.outputLines : Number.MAX_SAFE_INTEGER;
      const input = inputView(p.value.inputJson, { maxLines, maxLineLength: Math.max(40, options.width - 40) });
      const inline = input.inline ? `  ${options.colors.dim(input.inline)}` : "";
      const summary = `${options.colors.bold(p.value.name)}${inline}`;
      return { summary, body: input.lines.map((l) => options.colors.dim(l)) };
    }
    case "agentToolResult":
      return toolResult(p.value, options);
    case "sessionStatus":
      return { summary: statusSummary(p.value, options.colors), body: [] };
    case "spanModelRequest":
      return { summary: spanSummary(p.value, options.colors), body: [] };
    case "sessionError":
      return { summary: errorSummary(p.value, options.colors), body: [] };
    case "agentCustomToolUse":
      return {
        summary: `${options.colors.bold(p.value.name)}  ${options.colors.dim(oneLine(p.value.inputJson, 100))}`,
        body: [],
      };
    case "userToolConfirmation": {
      const allowed = p.value.result === ToolConfirmationResult.ALLOW;
      const what = allowed ? options.colors.green("allow") : options.colors.yellow("deny");
      return { summary: [what, p.value.toolUseId, p.value.denyMessage].filter(Boolean).join("  "), body: [] };
    }
    case "userCustomToolResult": {
      const mark = p.value.isError ? options.colors.red("error") : options.colors.green("ok");
      return {
        summary: `${p.value.toolUseId} · ${mark}`,
        body: p.value.output.split("\n").slice(0, options.outputLines),
      };
    }
    case "agentContextCompacted":
      return { summary: compactionLine(p.value), body: [] };
    case "sessionPlaced": {
      const line = placementLine(p.value);
      return { summary: p.value.previousExecutorId !== "" ? options.colors.yellow(line) : line, body: [] };
    }
    default:
      return { summary: options.colors.dim("(no payload)"), body: [] };
  }
}

function sessionCreated(v: SessionCreated, { colors: c }: RenderOptions): Described {
  const cfg = v.config;
  const parts = [cfg?.model || "default model"];
  const tools = cfg?.tools ?? [];
  parts.push(tools.length > 0 ? `tools: ${tools.join(", ")}` : "no tools");
  const limits = cfg?.limits;
  if (limits?.maxTurns) parts.push(`max ${limits.maxTurns} turns`);
  if (limits?.maxTotalTokens) parts.push(`budget ${limits.maxTotalTokens} tokens`);
  if (limits?.maxWallTime) parts.push(`wall ${formatDuration(limits.maxWallTime)}`);
  const summary = [v.title ? c.bold(JSON.stringify(v.title)) : "", parts.join(" · ")].filter(Boolean).join("  ");
  const body = cfg?.systemPrompt ? [c.dim(`system: ${oneLine(cfg.systemPrompt, 100)}`)] : [];
  return { summary, body };
}

function agentMessage(v: AgentMessage, options: RenderOptions): Described {
  const c = options.colors;
  const stop = stopReasonName(v.stopReason);
  const summary = [stop, v.usage ? c.dim(formatUsage(v.usage)) : ""].filter(Boolean).join("  ");
  const body: string[] = [];
  for (const block of v.content) {
    const b = block.block;
    if (b.case === "text") body.push(...b.value.text.split("\n"));
    else if (b.case === "thinking") body.push(...b.value.thinking.split("\n").map((l) => c.dim(c.italic(l))));
    else if (b.case === "redactedThinking") body.push(c.dim("(redacted thinking)"));
    else if (b.case === "toolUse") {
      const input = previewInput(b.value.inputJson, Math.max(20, options.width - 20 - b.value.name.length));
      body.push(`${c.blue("→")} ${c.bold(b.value.name)} ${c.dim(input)}`);
    }
  }
  return { summary, body };
}

/** "ok · exit 0 · 120ms" or "error · exit 1 · ..." for a tool result. */
export function toolResultSummary(v: AgentToolResult, c: Colors): string {
  const parts = [v.isError ? c.red("error") : c.green("ok")];
  if (v.name) parts.unshift(c.bold(v.name));
  // -1: no process completed (e.g. the executor was unreachable).
  if (v.exitCode >= 0 && (v.exitCode !== 0 || !v.isError)) parts.push(`exit ${v.exitCode}`);
  const took = formatDuration(v.duration);
  if (took) parts.push(took);
  if (v.truncated) parts.push(c.yellow("output truncated by executor"));
  return parts.join(c.dim(" · "));
}

/** The tool output, shortened for display, dimmed (red for errors). */
export function toolOutputLines(v: AgentToolResult, options: RenderOptions): string[] {
  const c = options.colors;
  const maxLines = Number.isFinite(options.outputLines) ? options.outputLines : Number.MAX_SAFE_INTEGER;
  const lines = truncateOutput(v.output, { maxLines, maxLineLength: Math.max(40, options.width - 6) });
  if (lines.length === 0) return [c.dim("(no output)")];
  return lines.map((l) => (v.isError ? c.red(l) : c.dim(l)));
}

function toolResult(v: AgentToolResult, options: RenderOptions): Described {
  return { summary: toolResultSummary(v, options.colors), body: toolOutputLines(v, options) };
}

/** "idle · end_turn", "terminated · error: ...", "running". */
export function statusSummary(v: SessionStatus, c: Colors): string {
  const state = runStateName(v.state);
  const stop = stopReasonName(v.stopReason);
  const bad =
    v.stopReason === StopReason.ERROR ||
    v.stopReason === StopReason.RETRIES_EXHAUSTED ||
    v.state === RunState.TERMINATED;
  const colored = bad
    ? c.red(state)
    : v.state === RunState.RUNNING
      ? c.cyan(state)
      : v.state === RunState.RESCHEDULING
        ? c.yellow(state)
        : c.green(state);
  const parts = [colored];
  if (stop) parts.push(v.stopReason === StopReason.INTERRUPTED ? c.yellow(stop) : stop);
  if (v.detail) parts.push(c.dim(oneLine(v.detail, 120)));
  return parts.join(" · ");
}

function spanSummary(v: SpanModelRequest, c: Colors): string {
  const parts = [v.model || "model"];
  const latency = formatDuration(v.latency);
  const ttft = formatDuration(v.timeToFirstToken);
  if (latency) parts.push(ttft ? `${latency} (first token ${ttft})` : latency);
  parts.push(formatUsage(v.usage));
  parts.push(formatCost(v.costUsd));
  if (v.attempts > 1) parts.push(c.yellow(`${v.attempts} attempts`));
  if (v.error) parts.push(c.red(oneLine(v.error, 120)));
  return c.dim(parts.join(" · "));
}

function errorSummary(v: SessionError, c: Colors): string {
  const kind = v.kind ? `${v.kind}: ` : "";
  const retry = v.retryable ? c.dim(" (retryable: `reins wake` may continue it)") : "";
  return `${c.red(`${kind}${v.message}`)}${retry}`;
}
