import { RunState, type Session } from "@reins/proto";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import type { RunStateName } from "../../options.js";
import { formatAge, formatCost, formatCount, runStateName, stopReasonName, totalTokens } from "../../render/format.js";
import { sessionJson } from "../../render/json-lines.js";
import { renderTable } from "../../render/table.js";
import type { Colors } from "../../terminal.js";

export interface SessionsOptions {
  state?: RunStateName;
  limit: number;
  json?: boolean;
}

const states: Record<RunStateName, RunState> = {
  running: RunState.RUNNING,
  rescheduling: RunState.RESCHEDULING,
  idle: RunState.IDLE,
  terminated: RunState.TERMINATED,
};

/** `reins sessions`: pages through ListSessions up to --limit. */
export async function listSessions(ctx: CliContext, command: Command, options: SessionsOptions): Promise<void> {
  const { session } = await ctx.clients(command);
  const sessions: Session[] = [];
  let pageToken = "";
  do {
    const page = await session.listSessions({
      pageSize: Math.min(1000, options.limit - sessions.length),
      pageToken,
      state: options.state ? states[options.state] : RunState.UNSPECIFIED,
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
    ctx.terminal.note(options.state === undefined ? "no sessions yet" : `no ${options.state} sessions`);
    return;
  }
  for (const line of renderSessionsTable(shown, ctx.terminal.colors, Date.now())) ctx.terminal.print(line);
  if (pageToken) ctx.terminal.note(ctx.terminal.errColors.dim("(more sessions: raise --limit)"));
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
