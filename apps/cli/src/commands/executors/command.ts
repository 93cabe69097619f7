import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../../context.js";
import { collectList } from "../../options.js";
import type { ExecutorsOptions } from "./action.js";

/** Executor ids as the registry defines them; checked locally for a clear usage error. */
function parseExecutorId(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw new InvalidArgumentError("executor ids are 1-64 characters of A-Z, a-z, 0-9, _ and -");
  }
  return value;
}

function collectLabel(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const labels = { ...previous };
  for (const entry of value.split(",").map((s) => s.trim())) {
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(entry)}`);
    labels[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return labels;
}

export function registerExecutors(program: Command, ctx: CliContext): void {
  const executors = program
    .command("executors")
    .description("list the registered executors (sandbox hosts) with their load; drain or take them back")
    .option("-l, --label <key=value>", "only executors with these labels (repeatable, or k=v,k=v)", collectLabel)
    .option("--tool <name>", "only executors whose catalog has these tools (repeatable, or a,b)", collectList)
    .option("--json", "print NDJSON, one executor per line")
    .addHelpText(
      "after",
      `
Executors register with the session service (--session-url); listing needs a
harness or operator token (--token), draining an operator token.

STATE is live or draining; CALLS is running/queued/capacity; HEARTBEAT is the
age of its latest heartbeat. A draining executor gets no new sessions; the
calls it runs finish.

Examples:
  $ reins executors
  $ reins executors --label region=eu --tool bash
  $ reins executors drain host-7      # before maintenance
  $ reins executors undrain host-7    # back in service`,
    )
    .action(async (options: ExecutorsOptions, command: Command) => {
      const { listExecutors } = await import("./action.js");
      await listExecutors(ctx, command, options);
    });
  executors
    .command("drain")
    .description("stop placing sessions on an executor; the calls it runs finish")
    .argument("<executor-id>", "the executor", parseExecutorId)
    .addHelpText(
      "after",
      `
Needs an operator token (--token). The executor stays listed, as draining, and
keeps serving the sessions already placed on it; \`reins executors undrain\`
takes it back.

Example:
  $ reins executors drain host-7`,
    )
    .action(async (id: string, _options: unknown, command: Command) => {
      const { setDraining } = await import("./action.js");
      await setDraining(ctx, command, id, true);
    });
  executors
    .command("undrain")
    .description("place sessions on a drained executor again")
    .argument("<executor-id>", "the executor", parseExecutorId)
    .addHelpText("after", "\nNeeds an operator token (--token).\n\nExample:\n  $ reins executors undrain host-7")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { setDraining } = await import("./action.js");
      await setDraining(ctx, command, id, false);
    });
  for (const sub of executors.commands) {
    sub.exitOverride().showHelpAfterError("(run with --help for usage)").configureOutput(program.configureOutput());
  }
}
