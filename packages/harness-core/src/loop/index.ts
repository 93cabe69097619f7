/**
 * The agent loop: one run of a session from its fold to idle (agent-loop), with
 * its limits, the recording of model failures and the backoff before the next
 * attempt (model-failure, reschedule), and the results of parallel calls
 * appended in batches (result-batcher).
 * Internal to harness-core unless src/index.ts exports it.
 */
export type { AgentLoopDeps, RunOutcome } from "./agent-loop.js";
export { runAgentLoop } from "./agent-loop.js";
export type { ReschedulePolicy } from "./reschedule.js";
export { createReschedulePolicy } from "./reschedule.js";
