import type { Command } from "commander";
import { ExitCode } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { describeError } from "../../error-line.js";
import { workspaceHosts } from "./workspace-hosts.js";

export interface DeleteOptions {
  keepWorkspace?: boolean;
}

/**
 * `reins delete`: the workspace first (on the executor the session is placed
 * on, see workspace-hosts.ts), then the log, so a failure never leaves a
 * workspace behind whose session is gone (running it again finishes the job).
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
        // On the host the session is placed on; a host it was moved off may be gone, and is tried only.
        for (const host of await workspaceHosts(session, sessionId, targets)) {
          const on = host.id ? ` on ${host.id}` : "";
          try {
            const { existed } = await host.client.deleteWorkspace({ sessionId });
            parts.push(existed ? `workspace removed${on}` : `no workspace${on}`);
          } catch (err) {
            if (host.current) throw err;
            parts.push(`workspace${on} not reachable (the host was lost)`);
          }
        }
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
