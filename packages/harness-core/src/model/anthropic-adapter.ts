import { setTimeout as sleep } from "node:timers/promises";
import Anthropic from "@anthropic-ai/sdk";
import type { Message } from "@anthropic-ai/sdk/resources/messages/messages";
import { SpanKind } from "@opentelemetry/api";
import { inSpan } from "@reins/service-kit";
import pRetry from "p-retry";
import { ModelAbortedError, ModelError } from "../errors.js";
import { classifyAnthropicError, ModelAttemptError } from "./anthropic-errors.js";
import { toAnthropicParams } from "./anthropic-params.js";
import type {
  ModelAdapter,
  ModelCallOptions,
  ModelRequest,
  ModelRequestStats,
  ModelResponse,
  ModelStopReason,
  ModelUsage,
} from "./model.js";
import { costOf } from "./pricing.js";

export interface AnthropicAdapterOptions {
  /** Default: ANTHROPIC_API_KEY. */
  readonly apiKey?: string;
  /** Any Anthropic-compatible endpoint. Default: ANTHROPIC_BASE_URL, else the SDK's. */
  readonly baseURL?: string;
  /** HTTP attempts per model request, first one included. Default 4. */
  readonly maxAttempts?: number;
  /** First backoff; doubled (with jitter) on each retry. Default 500 ms. */
  readonly minBackoffMs?: number;
  /** Largest backoff between attempts. Default 8 s. */
  readonly maxBackoffMs?: number;
  /** A longer retry-after than this is cut to it. Default 30 s. */
  readonly maxRetryAfterMs?: number;
  /** Per-attempt timeout. Default 10 min (the SDK's). */
  readonly timeoutMs?: number;
  /** Where the SDK's own warnings go (e.g. model deprecations). Default: the console. */
  readonly logger?: SdkLogger;
}

/** The SDK's logger shape; a pino logger fits. */
export interface SdkLogger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

/**
 * The Anthropic Messages API through `@anthropic-ai/sdk` streaming. The SDK's
 * own retries are off: this adapter retries 429, 5xx, overloaded and broken
 * streams itself, honouring retry-after, so every attempt is counted (the
 * `attempts` of `span.model_request`) and a stream cut mid-answer is retried too.
 */
export function createAnthropicAdapter(options: AnthropicAdapterOptions = {}): ModelAdapter {
  const client = new Anthropic({
    apiKey: options.apiKey ?? process.env.ANTHROPIC_API_KEY ?? null,
    baseURL: options.baseURL ?? process.env.ANTHROPIC_BASE_URL ?? null,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    // The SDK's own span per HTTP attempt (a child of the chat span), fixed to
    // metadata whatever ANTHROPIC_OPEN_TELEMETRY_* says: no conversation is ever
    // exported. Our trace context stays here: it is not sent to the model's provider.
    openTelemetry: { propagation: false, traces: { enabled: true, contentMode: "metadata_only" } },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;

  // An endpoint without count_tokens (an older or partial Anthropic-compatible
  // API) is asked once, not before every request.
  let counts = true;
  return {
    async countTokens(request, signal) {
      if (!counts) return undefined;
      const { model, messages, system, tools } = toAnthropicParams(request);
      try {
        const params = { model, messages, ...(system ? { system } : {}), ...(tools ? { tools } : {}) };
        const counted = await client.messages.countTokens(params, { signal: signal ?? null, maxRetries: 1 });
        return counted.input_tokens;
      } catch (err) {
        if (signal?.aborted) throw new ModelAbortedError("token count aborted", { cause: err });
        const status = err instanceof Anthropic.APIError ? err.status : undefined;
        if (status === 404 || status === 405 || status === 501) counts = false;
        return undefined;
      }
    },
    // A client span per model request, with the GenAI semantic conventions'
    // attributes: names, counts and reasons only, never the conversation.
    stream: (request, callOptions = {}) =>
      inSpan(
        "@reins/harness-core",
        `chat ${request.model}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "gen_ai.system": "anthropic",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": request.model,
            "gen_ai.request.max_tokens": request.maxTokens,
            ...serverOf(client.baseURL),
          },
        },
        async (span) => {
          const response = await streamOnce(request, callOptions, (message) => {
            span.setAttributes({
              "gen_ai.response.model": message.model,
              "gen_ai.response.id": message.id,
              "gen_ai.response.finish_reasons": message.stop_reason ? [message.stop_reason] : [],
            });
          });
          span.setAttributes({
            "gen_ai.usage.input_tokens": response.usage.inputTokens,
            "gen_ai.usage.output_tokens": response.usage.outputTokens,
            "gen_ai.usage.cache_creation.input_tokens": response.usage.cacheCreationInputTokens,
            "gen_ai.usage.cache_read.input_tokens": response.usage.cacheReadInputTokens,
            "reins.model.attempts": response.attempts,
          });
          return response;
        },
      ),
  };

  async function streamOnce(
    request: ModelRequest,
    { signal, onDelta }: ModelCallOptions,
    onMessage: (message: Message) => void,
  ): Promise<ModelResponse> {
    const params = toAnthropicParams(request);
    const started = performance.now();
    let attempts = 0;
    let timeToFirstTokenMs: number | undefined;
    let requestId = "";
    const stats = (usage: ModelUsage = zeroUsage): ModelRequestStats => ({
      model: request.model,
      attempts,
      latencyMs: performance.now() - started,
      timeToFirstTokenMs,
      usage,
      costUsd: costOf(request.model, usage),
      requestId,
    });

    const attempt = async (attemptNumber: number): Promise<Message> => {
      attempts = attemptNumber;
      const stream = client.messages.stream(params, { signal: signal ?? null });
      let stopped = false;
      stream.on("streamEvent", (event) => {
        if (event.type === "message_stop") stopped = true;
        if (event.type !== "content_block_delta") return;
        const { delta } = event;
        const text = delta.type === "text_delta" ? delta.text : delta.type === "thinking_delta" ? delta.thinking : "";
        if (text === "") return;
        timeToFirstTokenMs ??= performance.now() - started;
        onDelta?.({ attempt: attemptNumber, index: event.index, text, thinking: delta.type === "thinking_delta" });
      });
      try {
        const message = await stream.finalMessage();
        requestId = stream.request_id ?? requestId;
        // The SDK accepts a stream that ends cleanly but early; the API never sends one.
        if (!stopped) throw new ModelAttemptError("the response stream ended before message_stop", "stream_cut", true);
        return message;
      } catch (err) {
        requestId = stream.request_id ?? requestId;
        if (signal?.aborted) throw new ModelAbortedError("model request aborted", { cause: err });
        throw err instanceof ModelAttemptError ? err : classifyAnthropicError(err);
      }
    };

    let message: Message;
    try {
      message = await pRetry(attempt, {
        retries: maxAttempts - 1,
        minTimeout: options.minBackoffMs ?? 500,
        maxTimeout: options.maxBackoffMs ?? 8_000,
        factor: 2,
        randomize: true,
        signal,
        shouldRetry: ({ error }) => error instanceof ModelAttemptError && error.retryable,
        onFailedAttempt: async ({ error, retriesLeft }) => {
          if (!(error instanceof ModelAttemptError) || !error.retryable || retriesLeft === 0) return;
          // The server knows best when capacity comes back; backoff is added on top.
          if (error.retryAfterMs) await sleep(Math.min(error.retryAfterMs, maxRetryAfterMs), undefined, { signal });
        },
      });
    } catch (err) {
      if (signal?.aborted || err instanceof ModelAbortedError) {
        throw new ModelAbortedError("model request aborted", { cause: err });
      }
      const failure = err instanceof ModelAttemptError ? err : classifyAnthropicError(err);
      const suffix = attempts > 1 ? ` (after ${attempts} attempts)` : "";
      throw new ModelError(`${failure.message}${suffix}`, failure.kind, failure.retryable, stats(), { cause: err });
    }

    onMessage(message);
    const usage = usageOf(message);
    return {
      ...stats(usage),
      messageId: message.id,
      stopReason: stopReasonOf(message.stop_reason),
      content: contentOf(message),
    };
  }
}

/** server.address and server.port of the model endpoint (never its path or query, which may carry a key). */
function serverOf(baseURL: string): Record<string, string | number> {
  try {
    const url = new URL(baseURL);
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    return { "server.address": url.hostname, "server.port": port };
  } catch {
    return {};
  }
}

const zeroUsage: ModelUsage = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };

function usageOf(message: Message): ModelUsage {
  const u = message.usage;
  return {
    inputTokens: u.input_tokens ?? 0,
    outputTokens: u.output_tokens ?? 0,
    cacheCreationInputTokens: u.cache_creation_input_tokens ?? 0,
    cacheReadInputTokens: u.cache_read_input_tokens ?? 0,
  };
}

function stopReasonOf(reason: Message["stop_reason"]): ModelStopReason {
  switch (reason) {
    case "end_turn":
    case "tool_use":
    case "max_tokens":
    case "stop_sequence":
    case "refusal":
    case "pause_turn":
      return reason;
    case "model_context_window_exceeded":
      return "max_tokens";
    default:
      return "other";
  }
}

function contentOf(message: Message): ModelResponse["content"] {
  const blocks: ModelResponse["content"][number][] = [];
  for (const block of message.content) {
    switch (block.type) {
      case "text":
        blocks.push({ type: "text", text: block.text });
        break;
      case "thinking":
        blocks.push({ type: "thinking", thinking: block.thinking, signature: block.signature });
        break;
      case "redacted_thinking":
        blocks.push({ type: "redacted_thinking", data: block.data });
        break;
      case "tool_use":
        blocks.push({
          type: "tool_use",
          id: block.id,
          name: block.name,
          input: block.input as Record<string, unknown>,
        });
        break;
      default:
        // Server-side tool blocks are not offered by this harness.
        break;
    }
  }
  return blocks;
}
