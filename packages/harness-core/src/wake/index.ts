/**
 * Who runs a session when: at most one loop per session per process
 * (session-runner), and between replicas one JetStream work queue (wake-queue)
 * whose leases (wake-lease) a worker thread keeps renewed (wake-keeper).
 * Internal to harness-core unless src/index.ts exports it.
 */
export type { SessionRunner } from "./session-runner.js";
export { createSessionRunner } from "./session-runner.js";
export { createWakeKeeper } from "./wake-keeper.js";
export { createWakeLeaseTable } from "./wake-lease.js";
export { createWakeQueue } from "./wake-queue.js";
