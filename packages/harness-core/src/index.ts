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

export {
  HostToolsConfigError,
  harnessErrorToConnect,
  ModelAbortedError,
  ModelError,
  OwnershipLostError,
  SessionLogFullError,
  ToolAbortedError,
} from "./errors.js";
export type { NextStep, SessionFold, ToolCallState } from "./log/fold.js";
export { createSessionFold } from "./log/fold.js";
export type { AppendHook, EventPayload, SessionClient, SessionLog, SessionLogOptions } from "./log/session-log.js";
export {
  createSessionLog,
  isLogFull,
  loadSession,
  retryDelayOf,
} from "./log/session-log.js";
export type { StreamedAppendsOptions, StreamedSessionClient } from "./log/streamed-appends.js";
export { fromAppendError, withStreamedAppends } from "./log/streamed-appends.js";
export type { AgentLoopDeps, LoopLogger, RunOutcome } from "./loop/agent-loop.js";
export { runAgentLoop } from "./loop/agent-loop.js";
export { limitReached } from "./loop/limits.js";
export type { ReschedulePolicy, ReschedulePolicyOptions } from "./loop/reschedule.js";
export { createReschedulePolicy } from "./loop/reschedule.js";
export type { AnthropicAdapterOptions, SdkLogger } from "./model/anthropic-adapter.js";
export { createAnthropicAdapter } from "./model/anthropic-adapter.js";
export { classifyAnthropicError, ModelAttemptError } from "./model/anthropic-errors.js";
export { toAnthropicParams } from "./model/anthropic-params.js";
export type { ConversationBlock, ConversationMessage, ModelToolSpec } from "./model/conversation.js";
export { interruptText, notRun, outcomeUnknown, parseToolInput } from "./model/conversation.js";
export type { DeltaBus, NatsDeltaBusOptions } from "./model/delta-bus.js";
export { createLocalDeltaBus, createNatsDeltaBus, deltaSubject } from "./model/delta-bus.js";
export type {
  ModelAdapter,
  ModelCallOptions,
  ModelDelta,
  ModelRequest,
  ModelRequestStats,
  ModelResponse,
  ModelStopReason,
  ModelUsage,
} from "./model/model.js";
export type { ModelPrice } from "./model/pricing.js";
export { costOf, priceOf } from "./model/pricing.js";
export { forTenant, harnessServicePolicy, sessionsFor } from "./service/access.js";
export type { HarnessServiceDeps } from "./service/harness-service.js";
export { createHarnessServiceImpl } from "./service/harness-service.js";
export type { RunStreamOptions } from "./service/run-stream.js";
export { streamRun } from "./service/run-stream.js";
export type {
  ExecutorPool,
  ExecutorPoolOptions,
  ListToolsOptions,
  ToolCall,
  ToolOutcome,
} from "./tools/executor-pool.js";
export { createExecutorPool, describeExecutorFailure } from "./tools/executor-pool.js";
export type {
  HostToolCredential,
  HostToolRouterOptions,
  HostToolSpec,
  HostTools,
  SecretSources,
} from "./tools/host-tools/index.js";
export {
  createHostTools,
  parseHostToolsConfig,
  withHostTools,
} from "./tools/host-tools/index.js";
export type { ResolvedTools } from "./tools/tool-specs.js";
export { lookUpTools, resolveTools } from "./tools/tool-specs.js";
export type { SessionRunner, SessionRunnerOptions } from "./wake/session-runner.js";
export { createSessionRunner } from "./wake/session-runner.js";
export type { KeptDelivery, WakeKeeper, WakeKeeperOptions } from "./wake/wake-keeper.js";
export { createWakeKeeper } from "./wake/wake-keeper.js";
export type { WakeLease, WakeLeaseTable } from "./wake/wake-lease.js";
export { createWakeLeaseTable } from "./wake/wake-lease.js";
export type { WakeQueue, WakeQueueLogger, WakeQueueOptions } from "./wake/wake-queue.js";
export { createWakeQueue, wakeNames } from "./wake/wake-queue.js";
