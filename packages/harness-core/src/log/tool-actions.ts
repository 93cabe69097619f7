import { create } from "@bufbuild/protobuf";
import {
  type AgentToolResult,
  AgentToolResultSchema,
  type Event,
  ToolConfirmationResult,
  type ToolUseBlock,
} from "@reins/proto";
import type { ToolPolicy } from "../tools/index.js";
import type { ToolCallState } from "./fold.js";

// What the model reads for a denied call whose client gave no message.
export const deniedText = "the user denied this tool call; it was not executed";

/**
 * Folds a client's answer to a waiting call into its state: a confirmation is
 * kept (the first one decides); a denial, and a custom tool's result, are the
 * call's result, read by the model as any other (no `agent.tool_result` follows).
 */
export function applyToolAction(call: ToolCallState, event: Event): void {
  const p = event.payload;
  if (p.case === "userToolConfirmation") {
    if (call.confirmation !== undefined) return;
    const allow = p.value.result === ToolConfirmationResult.ALLOW;
    call.confirmation = { allow, denyMessage: p.value.denyMessage, eventId: event.id };
    if (!allow) setResult(call, deniedResult(call.toolUse, p.value.denyMessage), event);
  } else if (p.case === "userCustomToolResult") {
    const { output, isError } = p.value;
    setResult(
      call,
      create(AgentToolResultSchema, { toolUseId: call.toolUse.id, name: call.toolUse.name, output, isError }),
      event,
    );
  }
}

/** Records a call's result; the first one is the one the model reads, a later one can only be a duplicate. */
export function setResult(call: ToolCallState, result: AgentToolResult, event: Pick<Event, "id" | "seq">): void {
  if (call.result !== undefined) return;
  call.result = result;
  call.resultEventId = event.id;
  call.resultSeq = event.seq;
}

/**
 * Whether a call waits for its client: a custom tool's call without a result, or
 * an `always_ask` call neither allowed nor denied yet. A call that started (its
 * intent written) never waits: it ran, or its outcome is unknown.
 */
export function waitsForClient(call: ToolCallState, policy: ToolPolicy): boolean {
  if (call.result !== undefined || call.startedEventId !== undefined) return false;
  const route = policy.routeOf(call.toolUse.name);
  return route === "client" || (route === "ask" && call.confirmation?.allow !== true);
}

function deniedResult(toolUse: ToolUseBlock, message: string): AgentToolResult {
  return create(AgentToolResultSchema, {
    toolUseId: toolUse.id,
    name: toolUse.name,
    output: message.trim() === "" ? deniedText : message,
    isError: true,
  });
}
