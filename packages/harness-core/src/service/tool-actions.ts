import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EventSchema, RunState, StopReason, ToolConfirmationResult } from "@reins/proto";
import { eventIdProblem, validateSessionId } from "@reins/service-kit";
import { uuidv7 } from "uuidv7";
import { OwnershipLostError } from "../errors.js";
import {
  createSessionLog,
  customToolResult,
  type EventPayload,
  loadSession,
  type SessionClient,
  type SessionFold,
  sessionStatus,
  type ToolCallState,
  toolConfirmation,
  waitingStatus,
} from "../log/index.js";
import { toolPolicy } from "../tools/index.js";
import type { SessionRunner } from "../wake/index.js";

/** A client's answer to one tool call a session waits for. */
export type ToolAnswer =
  | { readonly kind: "confirmation"; readonly result: ToolConfirmationResult; readonly denyMessage: string }
  | { readonly kind: "result"; readonly output: string; readonly isError: boolean };

export interface ToolAnswerRequest {
  readonly sessionId: string;
  readonly toolUseId: string;
  readonly eventId: string;
}

export interface Answered {
  readonly seq: bigint;
  readonly pendingToolUseIds: string[];
}

/**
 * Records a client's answer to a waiting tool call (ConfirmToolUse,
 * SendCustomToolResult) with the session's new status: still idle
 * `requires_action`, naming the calls left, or running once none is, and then
 * hands it to the runner. The answer is an event in the log, so whichever
 * replica runs the session next reads it. The same answer again (by event id,
 * or the same decision or result) is a no-op that returns the first one's seq.
 */
export async function answerToolCall(
  sessions: SessionClient,
  runner: Pick<SessionRunner, "kick">,
  req: ToolAnswerRequest,
  answer: ToolAnswer,
  signal: AbortSignal,
): Promise<Answered> {
  validateSessionId(req.sessionId);
  if (req.toolUseId === "") throw new ConnectError("tool_use_id must not be empty", Code.InvalidArgument);
  const badEventId = eventIdProblem(req.eventId, "event_id");
  if (badEventId) throw new ConnectError(badEventId, Code.InvalidArgument);
  if (answer.kind === "confirmation" && !decisions.has(answer.result)) {
    throw new ConnectError(
      "result must be TOOL_CONFIRMATION_RESULT_ALLOW or TOOL_CONFIRMATION_RESULT_DENY",
      Code.InvalidArgument,
    );
  }
  // Another writer (a client answering another call) may move the log between
  // our read and our write: read it again and decide again.
  for (let attempt = 1; ; attempt++) {
    const fold = await loadSession(sessions, req.sessionId, signal);
    const pendingIds = () => fold.pendingCalls().map((c) => c.toolUse.id);
    const already = req.eventId ? fold.seqOf(req.eventId) : undefined;
    if (already !== undefined) return { seq: already, pendingToolUseIds: pendingIds() };
    const call = fold.toolCall(req.toolUseId);
    if (!call) {
      throw new ConnectError(`session ${req.sessionId} has no tool call ${req.toolUseId}`, Code.NotFound);
    }
    checkKind(fold, call, answer);
    const repeated = sameAnswer(fold, call, answer);
    if (repeated !== undefined) return { seq: repeated, pendingToolUseIds: pendingIds() };
    checkWaiting(fold, call);
    const left = fold.pendingCalls().filter((c) => c !== call);
    const payload = payloadOf(req.toolUseId, answer);
    const next = left.length > 0 ? waitingStatus(left.map((c) => c.toolUse.id)) : sessionStatus(RunState.RUNNING);
    const log = createSessionLog({ client: sessions, fold });
    try {
      const [event] = await log.appendEvents([
        create(EventSchema, { id: req.eventId || uuidv7(), payload }),
        create(EventSchema, { id: uuidv7(), payload: next }),
      ]);
      if (left.length === 0) runner.kick(req.sessionId, log.current ? fold : undefined);
      return { seq: event?.seq ?? 0n, pendingToolUseIds: left.map((c) => c.toolUse.id) };
    } catch (err) {
      if (!(err instanceof OwnershipLostError) || attempt >= 5) throw err;
    }
  }
}

const decisions: ReadonlySet<ToolConfirmationResult> = new Set([
  ToolConfirmationResult.ALLOW,
  ToolConfirmationResult.DENY,
]);

function payloadOf(toolUseId: string, answer: ToolAnswer): EventPayload {
  if (answer.kind === "result") return customToolResult(toolUseId, answer.output, answer.isError);
  const deny = answer.result === ToolConfirmationResult.DENY;
  return toolConfirmation(toolUseId, answer.result, deny ? answer.denyMessage : "");
}

// A confirmation is for an `always_ask` call, a result for a custom tool's.
function checkKind(fold: SessionFold, call: ToolCallState, answer: ToolAnswer): void {
  const { id, name } = call.toolUse;
  const route = toolPolicy(fold.config).routeOf(name);
  if (answer.kind === "confirmation" && route === "client") {
    throw new ConnectError(
      `tool call ${id} is a call of custom tool ${JSON.stringify(name)}: send its result with SendCustomToolResult`,
      Code.InvalidArgument,
    );
  }
  if (answer.kind === "confirmation" && route === "run") {
    throw new ConnectError(
      `tool call ${id} of ${JSON.stringify(name)} needs no confirmation: the tool is always_allow in this session`,
      Code.InvalidArgument,
    );
  }
  if (answer.kind === "result" && route !== "client") {
    const how = route === "ask" ? "allow or deny it with ConfirmToolUse" : "the harness runs it";
    throw new ConnectError(
      `tool call ${id} of ${JSON.stringify(name)} is not a custom tool call: ${how}`,
      Code.InvalidArgument,
    );
  }
}

/** Seq of the same answer already recorded (a retry), undefined when there is none; FAILED_PRECONDITION for another. */
function sameAnswer(fold: SessionFold, call: ToolCallState, answer: ToolAnswer): bigint | undefined {
  const { id } = call.toolUse;
  if (answer.kind === "confirmation" && call.confirmation) {
    const allow = answer.result === ToolConfirmationResult.ALLOW;
    if (call.confirmation.allow === allow) return fold.seqOf(call.confirmation.eventId);
    throw new ConnectError(
      `tool call ${id} was already ${call.confirmation.allow ? "allowed" : "denied"}`,
      Code.FailedPrecondition,
    );
  }
  if (call.result === undefined) return undefined;
  if (answer.kind === "result" && call.result.output === answer.output && call.result.isError === answer.isError) {
    const seq = call.resultEventId ? fold.seqOf(call.resultEventId) : undefined;
    if (seq !== undefined) return seq;
  }
  throw new ConnectError(
    `tool call ${id} already has a result${call.result.isError ? ` (error: ${clip(call.result.output)})` : ""}`,
    Code.FailedPrecondition,
  );
}

// The call is unanswered: the session must be idle and waiting for it.
function checkWaiting(fold: SessionFold, call: ToolCallState): void {
  const { id } = call.toolUse;
  const waiting = fold.runState === RunState.IDLE && fold.stopReason === StopReason.REQUIRES_ACTION;
  if (waiting && fold.pendingCalls().includes(call)) return;
  const state =
    fold.runState === RunState.TERMINATED
      ? "it is terminated"
      : waiting || fold.runState === RunState.IDLE
        ? "the call is not one it waits for"
        : "it is running a turn (answer once it is idle with stop reason requires_action)";
  throw new ConnectError(
    `session ${fold.sessionId} is not waiting for tool call ${id}: ${state}`,
    Code.FailedPrecondition,
  );
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
