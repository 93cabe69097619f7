import type { Command } from "commander";
import { ExitCode } from "../../cli-error.js";
import { executorClient } from "../../clients.js";
import type { CliContext } from "../../context.js";
import { describeError } from "../../error-line.js";

export interface DeleteOptions {
  keepWorkspace?: boolean;
}

/**
 * `reins delete`: the workspace first, then the log, so a failure never leaves
 * a workspace behind whose session is gone (running it again finishes the job).
 */
export async function deleteSessions(
  ctx: CliContext,
  command: Command,
  ids: readonly string[],
  options: DeleteOptions,
): Promise<number> {
  const targets = await ctx.targets(command);
  const { session } = await ctx.clients(command);
  const c = ctx.terminal.colors;
  let failed = false;
  for (const sessionId of ids) {
    const parts: string[] = [];
    try {
      if (!options.keepWorkspace) {
        const { existed } = await executorClient(targets).deleteWorkspace({ sessionId });
        parts.push(existed ? "workspace removed" : "no workspace");
      }
      const { purgedEvents } = await session.deleteSession({ sessionId });
      parts.push(`${purgedEvents} events purged`);
      ctx.terminal.print(`${c.green("✔")} ${sessionId}  ${parts.join(", ")}`);
    } catch (err) {
      failed = true;
      const done = parts.length ? ` (${parts.join(", ")})` : "";
      ctx.terminal.note(`${ctx.terminal.errColors.red("✖")} ${sessionId}${done}: ${describeError(err)}`);
    }
  }
  return failed ? ExitCode.failure : ExitCode.ok;
}
