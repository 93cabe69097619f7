import { createInterface } from "node:readline/promises";
import type { Client } from "@connectrpc/connect";
import { type HarnessService, RunState, type SessionService, ToolConfirmationResult } from "@reins/proto";
import type { CliContext } from "../../context.js";
import { type PendingCall, readPendingCalls, requiresActionJson } from "../../pending-calls.js";
import { oneLine } from "../../render/truncate.js";
import { watchRun } from "../../watch-run.js";

export interface AskTarget {
  readonly sessionId: string;
  readonly json: boolean;
  readonly outputLines: number;
  readonly harness: Client<typeof HarnessService>;
  readonly session: Client<typeof SessionService>;
}

/**
 * After a run settled: while the session waits for confirmations and a person
 * is at the terminal, shows each call and asks y/N, records the answers, and
 * watches the run they start. Elsewhere (a pipe, --json, custom tool calls) it
 * says what the session waits for and leaves it waiting. Returns the exit code.
 */
export async function settleWaitingCalls(ctx: CliContext, target: AskTarget, code: number): Promise<number> {
  const { sessionId, harness, session } = target;
  for (;;) {
    const pending = await readPendingCalls(session, sessionId);
    if (pending.length === 0) return code;
    if (target.json) {
      ctx.terminal.print(requiresActionJson(sessionId, pending));
      return code;
    }
    const interactive = ctx.terminal.isTTY && process.stdin.isTTY === true;
    if (!interactive || pending.some((c) => c.kind === "custom")) {
      for (const call of pending) ctx.terminal.note(waitingLine(ctx, sessionId, call));
      return code;
    }
    const lastSeq = (await session.getSession({ sessionId })).session?.lastSeq ?? 0n;
    // Each answer but the last is followed by an idle requires_action status
    // naming the calls left: the run the answers start settles after the last.
    let answeredSeq = lastSeq;
    for (const call of pending) {
      const allow = await askYesNo(ctx, call);
      const { seq } = await harness.confirmToolUse({
        sessionId,
        toolUseId: call.toolUseId,
        result: allow ? ToolConfirmationResult.ALLOW : ToolConfirmationResult.DENY,
        denyMessage: allow ? "" : "the user denied this call at the terminal",
      });
      if (seq > answeredSeq) answeredSeq = seq;
    }
    code = await watchRun(ctx, {
      ...target,
      onCtrlC: "interrupt",
      open: async function* (signal) {
        for await (const { event } of session.streamEvents({ sessionId, afterSeq: lastSeq }, { signal })) {
          if (!event) continue;
          yield { case: "event", value: event };
          const p = event.payload;
          const settles =
            p.case === "sessionStatus" && (p.value.state === RunState.IDLE || p.value.state === RunState.TERMINATED);
          if (settles && event.seq > answeredSeq) return;
        }
      },
    });
  }
}

async function askYesNo(ctx: CliContext, call: PendingCall): Promise<boolean> {
  const c = ctx.terminal.errColors;
  const prompt = `${c.yellow("?")} run ${c.bold(call.name)} ${oneLine(call.inputJson, 200)} ${c.dim("[y/N]")} `;
  const rl = createInterface({ input: process.stdin, output: ctx.terminal.err });
  try {
    return /^y(es)?$/i.test((await rl.question(prompt)).trim());
  } finally {
    rl.close();
  }
}

function waitingLine(ctx: CliContext, sessionId: string, call: PendingCall): string {
  const c = ctx.terminal.errColors;
  const how =
    call.kind === "custom"
      ? "waits for its client's result (SendCustomToolResult)"
      : `waits: reins approve ${sessionId} ${call.toolUseId}  |  reins deny ${sessionId} ${call.toolUseId} --reason R`;
  return `${c.yellow("?")} ${call.name} ${oneLine(call.inputJson, 120)} ${how}`;
}
