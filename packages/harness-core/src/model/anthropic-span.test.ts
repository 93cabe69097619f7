import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { registerInMemoryTracing } from "@reins/service-kit/testing";
import { scriptTurns, startFakeAnthropic } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { ModelError } from "../errors.js";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import type { ModelRequest } from "./model.js";

const request: ModelRequest = {
  model: "claude-test",
  system: "secret system prompt",
  tools: [],
  messages: [{ role: "user", content: [{ type: "text", text: "secret user text" }] }],
  maxTokens: 1000,
};
const fast = { minBackoffMs: 1, maxBackoffMs: 5 };

describe("the chat span of a model request", () => {
  it("carries the GenAI attributes: model, usage, finish reason, endpoint, and no content", async () => {
    await using tracing = registerInMemoryTracing();
    await using fake = await startFakeAnthropic({
      script: scriptTurns([
        {
          content: [{ type: "text", text: "secret answer" }],
          usage: { input_tokens: 321, output_tokens: 12, cache_creation_input_tokens: 7, cache_read_input_tokens: 5 },
        },
      ]),
    });
    const model = createAnthropicAdapter({ apiKey: "sk-ant-span-test-key", baseURL: fake.url });
    await model.stream(request);
    const span = tracing.spans().find((s) => s.name === "chat claude-test");
    expect(span?.name).toBe("chat claude-test");
    expect(span?.kind).toBe(SpanKind.CLIENT);
    const port = Number(new URL(fake.url).port);
    expect(span?.attributes).toEqual({
      "gen_ai.system": "anthropic",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "claude-test",
      "gen_ai.request.max_tokens": 1000,
      "server.address": "127.0.0.1",
      "server.port": port,
      "gen_ai.response.model": "claude-test",
      "gen_ai.response.id": expect.stringMatching(/^msg_/),
      "gen_ai.response.finish_reasons": ["end_turn"],
      "gen_ai.usage.input_tokens": 321,
      "gen_ai.usage.output_tokens": 12,
      "gen_ai.usage.cache_creation.input_tokens": 7,
      "gen_ai.usage.cache_read.input_tokens": 5,
      "reins.model.attempts": 1,
    });
    // The SDK's span of the HTTP call is its child, with metadata only; no trace context went to the API.
    const call = tracing.spans().find((s) => s.name === "anthropic.messages.create");
    expect(call?.parentSpanContext?.spanId).toBe(span?.spanContext().spanId);
    expect(fake.requests[0]?.headers.traceparent).toBeUndefined();
    const values = JSON.stringify(tracing.spans().map((s) => s.attributes));
    for (const secret of ["secret", "sk-ant"]) expect(values).not.toContain(secret);
  });

  it("records a failure by its kind, after the adapter's retries", async () => {
    await using tracing = registerInMemoryTracing();
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    fake.failNext({ fault: "overloaded" }, 2);
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url, maxAttempts: 2, ...fast });
    await expect(model.stream(request)).rejects.toBeInstanceOf(ModelError);
    const span = tracing.spans().find((s) => s.name === "chat claude-test");
    expect(tracing.spans().filter((s) => s.name === "anthropic.messages.create")).toHaveLength(2);
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: "overloaded" });
    expect(span?.attributes["error.type"]).toBe("overloaded");
    expect(span?.attributes["gen_ai.usage.input_tokens"]).toBeUndefined();
  });
});
