/**
 * reins.harness.v1.HarnessService: its handlers (harness-service), the stream of
 * a run (run-stream), the live text of a session (text-stream), and who may call what on which sessions (access).
 * Internal to harness-core unless src/index.ts exports it.
 */
export { forTenant, harnessServicePolicy } from "./access.js";
export { createHarnessServiceImpl } from "./harness-service.js";
