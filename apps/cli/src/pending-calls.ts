import type { Client } from "@connectrpc/connect";
import { EventType, RunState, type SessionService, StopReason } from "@reins/proto";

/** A tool call a session waits for, as the CLI shows it. */
export interface PendingCall {
  readonly toolUseId: string;
  readonly name: string;
  readonly inputJson: string;
  /** `custom`: the client runs it and sends its result; `confirm`: allow or deny. */
  readonly kind: "confirm" | "custom";
}

/**
 * The calls a session waits for, from its log: the latest status (idle with
 * stop reason requires_action names them), the model answer that asked for
 * them, and the session's custom tools. Empty when the session is not waiting.
 */
export async function readPendingCalls(
  session: Client<typeof SessionService>,
  sessionId: string,
  signal?: AbortSignal,
): Promise<PendingCall[]> {
  const latest = (type: EventType) => session.getLatestEvent({ sessionId, type }, { signal }).then((r) => r.event);
  const status = await latest(EventType.SESSION_STATUS);
  if (status?.payload.case !== "sessionStatus") return [];
  const { state, stopReason, pendingToolUseIds } = status.payload.value;
  if (state !== RunState.IDLE || stopReason !== StopReason.REQUIRES_ACTION) return [];
  const [message, created] = await Promise.all([latest(EventType.AGENT_MESSAGE), latest(EventType.SESSION_CREATED)]);
  const custom = new Set(
    created?.payload.case === "sessionCreated" ? created.payload.value.config?.customTools.map((t) => t.name) : [],
  );
  const blocks = message?.payload.case === "agentMessage" ? message.payload.value.content : [];
  return pendingToolUseIds.map((toolUseId) => {
    const block = blocks.find((b) => b.block.case === "toolUse" && b.block.value.id === toolUseId)?.block;
    const use = block?.case === "toolUse" ? block.value : undefined;
    const name = use?.name ?? "";
    return { toolUseId, name, inputJson: use?.inputJson ?? "{}", kind: custom.has(name) ? "custom" : "confirm" };
  });
}

/** The NDJSON line of a session's requires_action state. */
export function requiresActionJson(sessionId: string, calls: readonly PendingCall[]): string {
  return JSON.stringify({
    type: "requires_action",
    sessionId,
    pending: calls.map((c) => ({ toolUseId: c.toolUseId, name: c.name, input: parseInput(c.inputJson), kind: c.kind })),
  });
}

function parseInput(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}
