import { ToolConfirmationResult } from "@reins/proto";
import type { Command } from "commander";
import { CliError, ExitCode } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { readPendingCalls } from "../../pending-calls.js";

export interface DecideOptions {
  reason?: string;
  json?: boolean;
}

/**
 * `reins approve` / `reins deny`: decides on one waiting call, or on every call
 * of the session that waits for a confirmation, and says what it still waits for.
 */
export async function decide(
  ctx: CliContext,
  command: Command,
  sessionId: string,
  toolUseId: string | undefined,
  allow: boolean,
  options: DecideOptions,
): Promise<number> {
  const { harness, session } = await ctx.clients(command);
  const ids =
    toolUseId !== undefined
      ? [toolUseId]
      : (await readPendingCalls(session, sessionId)).filter((c) => c.kind === "confirm").map((c) => c.toolUseId);
  if (ids.length === 0) {
    throw new CliError(`session ${sessionId} waits for no tool call confirmation`, ExitCode.failure);
  }
  const result = allow ? ToolConfirmationResult.ALLOW : ToolConfirmationResult.DENY;
  for (const id of ids) {
    const res = await harness.confirmToolUse({ sessionId, toolUseId: id, result, denyMessage: options.reason ?? "" });
    if (options.json) {
      const decision = allow ? "allow" : "deny";
      ctx.terminal.print(
        JSON.stringify({
          type: "tool_confirmation",
          sessionId,
          toolUseId: id,
          result: decision,
          seq: String(res.seq),
          pendingToolUseIds: res.pendingToolUseIds,
        }),
      );
      continue;
    }
    const next =
      res.pendingToolUseIds.length > 0
        ? `still waiting for ${res.pendingToolUseIds.join(", ")}`
        : "the session runs on";
    ctx.terminal.print(`${allow ? "allowed" : "denied"} ${id} (user.tool_confirmation at seq ${res.seq}); ${next}`);
  }
  return ExitCode.ok;
}
