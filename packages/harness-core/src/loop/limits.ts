import { type AgentConfig, StopReason } from "@reins/proto";

/** The limit a session has reached before its next model request, if any. */
export function limitReached(
  config: AgentConfig,
  turns: number,
  totalTokens: number,
): { reason: StopReason; detail: string } | undefined {
  const limits = config.limits;
  if (!limits) return undefined;
  if (limits.maxTurns > 0 && turns >= limits.maxTurns) {
    return { reason: StopReason.MAX_TURNS, detail: `max_turns ${limits.maxTurns} reached` };
  }
  if (limits.maxTotalTokens > 0n && BigInt(totalTokens) >= limits.maxTotalTokens) {
    return {
      reason: StopReason.BUDGET_REACHED,
      detail: `token budget of ${limits.maxTotalTokens} reached (${totalTokens} used)`,
    };
  }
  return undefined;
}
