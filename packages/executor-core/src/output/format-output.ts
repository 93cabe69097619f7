import type { ToolSpec } from "../catalog/index.js";
import type { RunOutcome } from "../container/index.js";
import { formatBytes, formatSeconds } from "../units.js";

/** What the model reads, and the flags callers act on. */
export interface FormattedOutput {
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly isError: boolean;
  readonly truncated: boolean;
}

const decode = (b: Buffer) => new TextDecoder("utf-8", { fatal: false }).decode(b);

/**
 * Renders a finished call: stdout, then stderr under a `[stderr]` line, then one
 * bracketed line for anything the model must know (truncation, exit code,
 * timeout, out of memory). Everything together stays within the tool's cap.
 */
export function formatOutcome(tool: ToolSpec, outcome: RunOutcome): FormattedOutput {
  const cap = tool.maxOutputBytes;
  const out = outcome.stdout;
  const err = outcome.stderr;
  // stderr keeps at least a quarter of the budget: the error is usually what matters.
  const errBudget = Math.min(err.kept.length, Math.max(cap - out.kept.length, Math.floor(cap / 4)));
  const outBudget = Math.min(out.kept.length, cap - errBudget);
  const stdoutText = decode(out.kept.subarray(0, outBudget));
  const stderrText = decode(err.kept.subarray(0, errBudget));
  const total = out.total + err.total;
  const truncated = outBudget < out.total || errBudget < err.total;

  const parts: string[] = [];
  if (stdoutText) parts.push(stdoutText);
  if (stderrText) parts.push(`${joiner(parts)}[stderr]\n${stderrText}`);
  const notes: string[] = [];
  if (truncated) {
    notes.push(
      `[output truncated: ${formatBytes(outBudget + errBudget)} of ${formatBytes(total)} shown (cap ${formatBytes(cap)})]`,
    );
  }
  if (outcome.flooded) notes.push("[the process kept writing far beyond the output cap and was stopped]");
  let isError = false;
  if (outcome.failure) {
    isError = true;
    notes.push(`[${outcome.failure.message}]`);
  } else if (outcome.timedOut) {
    isError = true;
    notes.push(`[timed out after ${formatSeconds(tool.timeoutMs)}; the process was killed]`);
  } else if (outcome.oomKilled) {
    isError = true;
    notes.push(`[out of memory: a process was killed at the ${formatBytes(tool.memoryBytes)} memory limit]`);
  } else if (outcome.flooded) {
    isError = true;
  } else if (outcome.exitCode === 137) {
    isError = true;
    // Not our timeout, not the memory limit: someone stopped the container, most
    // likely the Docker engine shutting down under the call.
    notes.push("[the sandbox was killed from outside (SIGKILL, exit code 137), e.g. the Docker engine stopped]");
  } else if (outcome.exitCode !== 0) {
    isError = true;
    notes.push(`[exit code ${outcome.exitCode}]`);
  }
  for (const note of notes) parts.push(`${joiner(parts)}${note}`);
  return { output: parts.join(""), stdout: stdoutText, stderr: stderrText, isError, truncated };
}

function joiner(parts: readonly string[]): string {
  const last = parts.at(-1);
  return last === undefined || last.endsWith("\n") ? "" : "\n";
}
