import { type AgentMessage, RunState, StopReason } from "@reins/proto";
import { customToolUse, type EventPayload, type SessionLog, toolUseStarted, waitingStatus } from "../log/index.js";
import type { ToolPolicy } from "../tools/index.js";

/**
 * What goes in one append with the model's answer, for each of its tool calls:
 * the write-ahead intent of a call the harness runs at once, the hand-over of a
 * custom tool's call to the client; nothing for an `always_ask` call, which
 * waits in the log as the answer's tool_use until a client decides (its intent
 * is written when it runs). `runs` names the calls this run may make.
 */
export function intentsOf(
  message: AgentMessage,
  policy: ToolPolicy,
): { readonly payloads: EventPayload[]; readonly runs: string[] } {
  const payloads: EventPayload[] = [];
  const runs: string[] = [];
  for (const { block } of message.content) {
    if (block.case !== "toolUse") continue;
    const route = policy.routeOf(block.value.name);
    if (route === "client") payloads.push(customToolUse(block.value));
    if (route !== "run") continue;
    payloads.push(toolUseStarted(block.value));
    runs.push(block.value.id);
  }
  return { payloads, runs };
}

/**
 * Leaves the session idle with stop reason `requires_action`, naming the calls
 * it waits for, and ends the run: no lease, no model request, no wake until a
 * client answers (a wake meanwhile finds it waiting and ends at once).
 */
export async function waitForClient(log: SessionLog): Promise<{ kind: "idle"; stopReason: StopReason }> {
  const { fold } = log;
  if (fold.runState !== RunState.IDLE || fold.stopReason !== StopReason.REQUIRES_ACTION) {
    await log.append(waitingStatus(fold.pendingCalls().map((c) => c.toolUse.id)));
  }
  return { kind: "idle", stopReason: StopReason.REQUIRES_ACTION };
}
