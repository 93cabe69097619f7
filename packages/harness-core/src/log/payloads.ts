import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AgentCustomToolUseSchema,
  AgentMessageSchema,
  AgentToolResultSchema,
  AgentToolUseStartedSchema,
  type ContentBlock,
  ContentBlockSchema,
  RunState,
  SessionErrorSchema,
  SessionPlacedSchema,
  SessionStatusSchema,
  SpanModelRequestSchema,
  StopReason,
  type ToolConfirmationResult,
  type ToolUseBlock,
  UsageSchema,
  UserCustomToolResultSchema,
  UserInterruptSchema,
  UserMessageSchema,
  UserToolConfirmationSchema,
} from "@reins/proto";
import type { ModelRequestStats, ModelResponse, ModelStopReason, ModelUsage } from "../model/index.js";
import type { ToolOutcome } from "../tools/index.js";
import type { EventPayload } from "./session-log.js";

// Builders of event payloads, so the loop reads as the sequence of events it writes.

export function userMessage(text: string): EventPayload {
  return { case: "userMessage", value: create(UserMessageSchema, { text }) };
}

export function userInterrupt(reason: string): EventPayload {
  return { case: "userInterrupt", value: create(UserInterruptSchema, { reason }) };
}

/** The session's executor calls go to this executor from now on (its workspace is there). */
export function sessionPlaced(placed: {
  executorId: string;
  executorAddress: string;
  incarnation: string;
  previousExecutorId: string;
  reason: string;
}): EventPayload {
  return { case: "sessionPlaced", value: create(SessionPlacedSchema, placed) };
}

export function sessionStatus(state: RunState, stopReason = StopReason.UNSPECIFIED, detail = ""): EventPayload {
  return { case: "sessionStatus", value: create(SessionStatusSchema, { state, stopReason, detail }) };
}

/** The turn waits for the model until `retryAt` (ms since epoch), with no harness working on it. */
export function reschedulingStatus(retryAt: number, attempt: number, detail: string): EventPayload {
  return {
    case: "sessionStatus",
    value: create(SessionStatusSchema, {
      state: RunState.RESCHEDULING,
      detail,
      retryTime: timestampFromMs(retryAt),
      retryAttempt: attempt,
    }),
  };
}

/** The session waits for its client to answer these tool calls (tool_use order). */
export function waitingStatus(pendingToolUseIds: readonly string[]): EventPayload {
  return {
    case: "sessionStatus",
    value: create(SessionStatusSchema, {
      state: RunState.IDLE,
      stopReason: StopReason.REQUIRES_ACTION,
      pendingToolUseIds: [...pendingToolUseIds],
    }),
  };
}

/** A custom tool's call, handed to the client: written in place of its intent. */
export function customToolUse(toolUse: ToolUseBlock): EventPayload {
  return {
    case: "agentCustomToolUse",
    value: create(AgentCustomToolUseSchema, {
      toolUseId: toolUse.id,
      name: toolUse.name,
      inputJson: toolUse.inputJson,
    }),
  };
}

export function toolConfirmation(toolUseId: string, result: ToolConfirmationResult, denyMessage: string): EventPayload {
  return {
    case: "userToolConfirmation",
    value: create(UserToolConfirmationSchema, { toolUseId, result, denyMessage }),
  };
}

export function customToolResult(toolUseId: string, output: string, isError: boolean): EventPayload {
  return { case: "userCustomToolResult", value: create(UserCustomToolResultSchema, { toolUseId, output, isError }) };
}

export function sessionError(message: string, kind: string, retryable: boolean): EventPayload {
  return { case: "sessionError", value: create(SessionErrorSchema, { message, kind, retryable }) };
}

export function agentMessage(response: ModelResponse): EventPayload {
  return {
    case: "agentMessage",
    value: create(AgentMessageSchema, {
      model: response.model,
      content: response.content.map(contentBlock),
      stopReason: stopReasonOf(response.stopReason),
      usage: usageOf(response.usage),
      messageId: response.messageId,
    }),
  };
}

function contentBlock(block: ModelResponse["content"][number]): ContentBlock {
  switch (block.type) {
    case "text":
      return create(ContentBlockSchema, { block: { case: "text", value: { text: block.text } } });
    case "thinking":
      return create(ContentBlockSchema, {
        block: { case: "thinking", value: { thinking: block.thinking, signature: block.signature } },
      });
    case "redacted_thinking":
      return create(ContentBlockSchema, { block: { case: "redactedThinking", value: { data: block.data } } });
    case "tool_use":
      return create(ContentBlockSchema, {
        block: { case: "toolUse", value: { id: block.id, name: block.name, inputJson: JSON.stringify(block.input) } },
      });
  }
}

export function modelSpan(stats: ModelRequestStats, error = ""): EventPayload {
  return {
    case: "spanModelRequest",
    value: create(SpanModelRequestSchema, {
      model: stats.model,
      latency: durationFromMs(Math.round(stats.latencyMs)),
      timeToFirstToken:
        stats.timeToFirstTokenMs === undefined ? undefined : durationFromMs(Math.round(stats.timeToFirstTokenMs)),
      usage: usageOf(stats.usage),
      attempts: stats.attempts,
      costUsd: stats.costUsd,
      requestId: stats.requestId,
      error,
    }),
  };
}

export function toolUseStarted(toolUse: ToolUseBlock): EventPayload {
  return {
    case: "agentToolUseStarted",
    value: create(AgentToolUseStartedSchema, {
      toolUseId: toolUse.id,
      name: toolUse.name,
      inputJson: toolUse.inputJson,
    }),
  };
}

export function toolResult(toolUse: ToolUseBlock, outcome: ToolOutcome): EventPayload {
  return {
    case: "agentToolResult",
    value: create(AgentToolResultSchema, {
      toolUseId: toolUse.id,
      name: toolUse.name,
      output: outcome.output,
      isError: outcome.isError,
      exitCode: outcome.exitCode,
      duration: durationFromMs(Math.round(outcome.durationMs)),
      truncated: outcome.truncated,
    }),
  };
}

/** A result the harness writes itself, for a call whose real outcome it cannot know. */
export function syntheticResult(toolUse: ToolUseBlock, output: string): EventPayload {
  return toolResult(toolUse, { output, isError: true, exitCode: -1, durationMs: 0, truncated: false });
}

export function stopReasonOf(reason: ModelStopReason): StopReason {
  switch (reason) {
    case "end_turn":
      return StopReason.END_TURN;
    case "tool_use":
      return StopReason.TOOL_USE;
    case "max_tokens":
      return StopReason.MAX_TOKENS;
    case "stop_sequence":
      return StopReason.STOP_SEQUENCE;
    case "refusal":
      return StopReason.REFUSAL;
    case "pause_turn":
      return StopReason.PAUSE_TURN;
    case "other":
      return StopReason.END_TURN;
  }
}

function usageOf(usage: ModelUsage) {
  return create(UsageSchema, {
    inputTokens: BigInt(usage.inputTokens),
    outputTokens: BigInt(usage.outputTokens),
    cacheCreationInputTokens: BigInt(usage.cacheCreationInputTokens),
    cacheReadInputTokens: BigInt(usage.cacheReadInputTokens),
  });
}
