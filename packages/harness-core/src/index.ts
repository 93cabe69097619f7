/**
 * @reins/harness-core: the agent loop behind apps/harness.
 *
 * `createSessionRunner` runs sessions (one loop per session per process) by folding
 * the log (`createSessionFold`), calling the model (`createAnthropicAdapter`),
 * writing each step ahead of acting on it, and routing tool calls to executors
 * (`createExecutorPool`) or host tools (`withHostTools`); `createWakeQueue` shares
 * sessions between replicas; `createHarnessServiceImpl` serves
 * reins.harness.v1.HarnessService. See README.md and ARCHITECTURE.md.
 */
export { forTenant, harnessServicePolicy, sessionsFor } from "./access.js";
export type { AgentLoopDeps, LoopLogger, RunOutcome } from "./agent-loop.js";
export { runAgentLoop } from "./agent-loop.js";
export type { AnthropicAdapterOptions, SdkLogger } from "./anthropic-adapter.js";
export { createAnthropicAdapter } from "./anthropic-adapter.js";
export { classifyAnthropicError, ModelAttemptError } from "./anthropic-errors.js";
export { toAnthropicParams } from "./anthropic-params.js";
export type { ConversationBlock, ConversationMessage, ToolSpec } from "./conversation.js";
export { interruptText, notRun, outcomeUnknown, parseToolInput } from "./conversation.js";
export type { DeltaBus, NatsDeltaBusOptions } from "./delta-bus.js";
export { createLocalDeltaBus, createNatsDeltaBus, deltaSubject } from "./delta-bus.js";
export { toConnectError } from "./errors.js";
export type { ExecutorPool, ExecutorPoolOptions, ListToolsOptions, ToolCall, ToolOutcome } from "./executor-pool.js";
export { createExecutorPool, describeExecutorFailure, ToolAbortedError } from "./executor-pool.js";
export type { NextStep, SessionFold, ToolCallState } from "./fold.js";
export { createSessionFold } from "./fold.js";
export type { HarnessServiceDeps } from "./harness-service.js";
export { createHarnessServiceImpl } from "./harness-service.js";
export type {
  HostToolCredential,
  HostToolRouterOptions,
  HostToolSpec,
  HostTools,
  SecretSources,
} from "./host-tools/index.js";
export {
  createHostTools,
  HostToolsConfigError,
  parseHostToolsConfig,
  withHostTools,
} from "./host-tools/index.js";
export { limitReached } from "./limits.js";
export type {
  ModelAdapter,
  ModelCallOptions,
  ModelDelta,
  ModelRequest,
  ModelRequestStats,
  ModelResponse,
  ModelStopReason,
  ModelUsage,
} from "./model.js";
export { ModelAbortedError, ModelError } from "./model.js";
export type { ModelPrice } from "./pricing.js";
export { costOf, priceOf } from "./pricing.js";
export type { ReschedulePolicy, ReschedulePolicyOptions } from "./reschedule.js";
export { createReschedulePolicy } from "./reschedule.js";
export type { RunStreamOptions } from "./run-stream.js";
export { streamRun } from "./run-stream.js";
export type { AppendHook, EventPayload, SessionClient, SessionLog, SessionLogOptions } from "./session-log.js";
export { createSessionLog, FencedError, isLogFull, LogFullError, loadSession, retryDelayOf } from "./session-log.js";
export type { SessionRunner, SessionRunnerOptions } from "./session-runner.js";
export { createSessionRunner } from "./session-runner.js";
export type { StreamedAppendsOptions, StreamedSessionClient } from "./streamed-appends.js";
export { fromAppendError, withStreamedAppends } from "./streamed-appends.js";
export type { ResolvedTools } from "./tool-specs.js";
export { lookUpTools, resolveTools } from "./tool-specs.js";
export type { KeptDelivery, WakeKeeper, WakeKeeperOptions } from "./wake-keeper.js";
export { createWakeKeeper } from "./wake-keeper.js";
export type { WakeLease, WakeLeaseTable } from "./wake-lease.js";
export { createWakeLeaseTable } from "./wake-lease.js";
export type { WakeQueue, WakeQueueLogger, WakeQueueOptions } from "./wake-queue.js";
export { createWakeQueue, wakeNames } from "./wake-queue.js";
