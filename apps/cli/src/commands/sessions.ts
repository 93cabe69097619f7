import { RunState, type Session } from "@reins/proto";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { parsePositive } from "../options.js";
import {
  formatAge,
  formatCost,
  formatCount,
  parseRunState,
  runStateName,
  stopReasonName,
  totalTokens,
} from "../render/format.js";
import { sessionJson } from "../render/json-lines.js";
import { renderTable } from "../render/table.js";
import type { Colors } from "../terminal.js";

interface SessionsOptions {
  state?: RunState;
  limit: number;
  json?: boolean;
}

function parseStateOption(value: string): RunState {
  const state = parseRunState(value);
  if (state === undefined) throw new InvalidArgumentError("expected running, idle or terminated");
  return state;
}

export function registerSessions(program: Command, ctx: CliContext): void {
  program
    .command("sessions")
    .description("list sessions, newest first")
    .option("--state <state>", "only sessions in this state: running, idle or terminated", parseStateOption)
    .option("-n, --limit <n>", "show at most this many", parsePositive, 20)
    .option("--json", "print NDJSON, one session per line")
    .addHelpText(
      "after",
      `
Examples:
  $ reins sessions
  $ reins sessions --state running
  $ reins sessions --json --limit 1000 | jq -r .sessionId`,
    )
    .action(async (options: SessionsOptions, command: Command) => {
      const { session } = await ctx.clients(command);
      const sessions: Session[] = [];
      let pageToken = "";
      do {
        const page = await session.listSessions({
          pageSize: Math.min(1000, options.limit - sessions.length),
          pageToken,
          state: options.state ?? RunState.UNSPECIFIED,
        });
        sessions.push(...page.sessions);
        pageToken = page.nextPageToken;
      } while (pageToken && sessions.length < options.limit);
      const shown = sessions.slice(0, options.limit);

      if (options.json) {
        for (const s of shown) ctx.terminal.print(sessionJson(s));
        return;
      }
      if (shown.length === 0) {
        ctx.terminal.note(options.state === undefined ? "no sessions yet" : "no sessions in that state");
        return;
      }
      for (const line of renderSessionsTable(shown, ctx.terminal.colors, Date.now())) ctx.terminal.print(line);
      if (pageToken) ctx.terminal.note(ctx.terminal.errColors.dim(`(more sessions: raise --limit)`));
    });
}

/** The `reins sessions` table. Pure, for tests. */
export function renderSessionsTable(sessions: readonly Session[], c: Colors, nowMs: number): string[] {
  const stateColor = (s: RunState) =>
    s === RunState.RUNNING ? c.cyan : s === RunState.TERMINATED ? c.red : s === RunState.IDLE ? c.green : c.dim;
  return renderTable(
    [
      { header: "ID" },
      { header: "STATE" },
      { header: "STOP" },
      { header: "TITLE", maxWidth: 40 },
      { header: "EVENTS", align: "right" },
      { header: "TOKENS", align: "right" },
      { header: "COST", align: "right" },
      { header: "CREATED" },
    ],
    sessions.map((s) => [
      s.sessionId,
      stateColor(s.state)(runStateName(s.state)),
      stopReasonName(s.stopReason),
      s.title,
      formatCount(s.lastSeq),
      formatCount(totalTokens(s.usage)),
      formatCost(s.costUsd),
      formatAge(s.createTime, nowMs),
    ]),
    c,
  );
}
