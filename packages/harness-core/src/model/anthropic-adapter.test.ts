import { type FakeTurn, scriptTurns, startFakeAnthropic } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { ModelAbortedError, ModelError } from "../errors.js";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import type { ConversationMessage } from "./conversation.js";
import type { ModelDelta, ModelRequest } from "./model.js";

const toolTurn: FakeTurn = {
  content: [
    { type: "text", text: "Running both." },
    { type: "tool_use", name: "bash", input: { command: "echo a" } },
    { type: "tool_use", name: "bash", input: { command: "echo b" } },
  ],
};

function request(messages: ConversationMessage[] = [{ role: "user", content: [{ type: "text", text: "hi" }] }]) {
  return {
    model: "claude-test",
    system: "You are terse.",
    tools: [
      {
        name: "bash",
        description: "run",
        inputSchema: { type: "object", properties: { command: { type: "string" } } },
      },
    ],
    messages,
    maxTokens: 1000,
  } satisfies ModelRequest;
}

const fast = { minBackoffMs: 1, maxBackoffMs: 5 };

describe("createAnthropicAdapter", () => {
  it("streams an answer with text deltas, tool_use blocks, usage and cost", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([toolTurn]) });
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url });
    const deltas: ModelDelta[] = [];
    const response = await model.stream(request(), { onDelta: (d) => deltas.push(d) });
    expect(response.stopReason).toBe("tool_use");
    expect(response.content.map((b) => b.type)).toEqual(["text", "tool_use", "tool_use"]);
    expect(response.content[1]).toMatchObject({ name: "bash", input: { command: "echo a" } });
    expect(deltas.map((d) => d.text).join("")).toBe("Running both.");
    expect(deltas.every((d) => d.attempt === 1 && d.index === 0 && !d.thinking)).toBe(true);
    expect(response.attempts).toBe(1);
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.costUsd).toBeGreaterThan(0);
    expect(response.requestId).toBe("req_fake_0");
    expect(response.timeToFirstTokenMs).toBeLessThanOrEqual(response.latencyMs);
  });

  it("sends system, tools and prompt-caching breakpoints, and reads the cache on the next turn", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([toolTurn]) });
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url });
    const first = await model.stream(request());
    const ids = first.content.flatMap((b) => (b.type === "tool_use" ? [b.id] : []));
    const second = await model.stream(
      request([
        { role: "user", content: [{ type: "text", text: "hi" }] },
        { role: "assistant", content: [...first.content] },
        {
          role: "user",
          content: ids.map((id) => ({ type: "tool_result" as const, tool_use_id: id, content: "ok", is_error: false })),
        },
      ]),
    );
    const body = fake.requests[1]?.body as {
      system: Array<{ cache_control?: unknown }>;
      messages: Array<{ content: Array<{ cache_control?: unknown }> }>;
    };
    expect(body.system[0]?.cache_control).toEqual({ type: "ephemeral" });
    expect(body.messages.at(-1)?.content.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    expect(body.messages[0]?.content.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    expect(first.usage.cacheCreationInputTokens).toBeGreaterThan(0);
    expect(second.usage.cacheReadInputTokens).toBeGreaterThanOrEqual(first.usage.cacheCreationInputTokens);
  });

  it("retries 429 (honouring retry-after), 529, 500 and a dropped stream, counting attempts", async () => {
    await using fake = await startFakeAnthropic({
      script: scriptTurns([{ content: [{ type: "text", text: "made it" }] }]),
    });
    fake.failNext({ fault: "rate_limit", retryAfterSeconds: 0.05 });
    fake.failNext({ fault: "overloaded" });
    fake.failNext({ fault: "server_error" });
    fake.failNext({ fault: "drop", afterEvents: 4 });
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url, maxAttempts: 5, ...fast });
    const deltas: ModelDelta[] = [];
    const response = await model.stream(request(), { onDelta: (d) => deltas.push(d) });
    expect(response.content).toEqual([{ type: "text", text: "made it" }]);
    expect(response.attempts).toBe(5);
    expect(fake.requests.map((r) => r.outcome)).toEqual(["rate_limit", "overloaded", "server_error", "drop", "ok"]);
    // The cut attempt streamed some text first; viewers tell the attempts apart.
    expect(deltas.some((d) => d.attempt === 4)).toBe(true);
    expect(
      deltas
        .filter((d) => d.attempt === 5)
        .map((d) => d.text)
        .join(""),
    ).toBe("made it");
    const gap = (fake.requests[1]?.receivedAt ?? 0) - (fake.requests[0]?.receivedAt ?? 0);
    expect(gap).toBeGreaterThanOrEqual(45);
  });

  it("gives up after its attempts with a retryable ModelError that carries the stats", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    fake.failNext({ fault: "overloaded" }, 3);
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url, maxAttempts: 3, ...fast });
    const err = await model.stream(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ kind: "overloaded", retryable: true, stats: { attempts: 3 } });
    expect((err as Error).message).toContain("after 3 attempts");
    expect(fake.requests).toHaveLength(3);
  });

  it("does not retry a request the API rejects as invalid", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url, ...fast });
    const unanswered = request([
      { role: "user", content: [{ type: "text", text: "hi" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t", name: "bash", input: {} }] },
      { role: "user", content: [{ type: "text", text: "no result" }] },
    ]);
    const err = await model.stream(unanswered).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "invalid_request", retryable: false, stats: { attempts: 1 } });
    expect(fake.requests).toHaveLength(1);
  });

  it("stops streaming on abort with ModelAbortedError", async () => {
    const hold = new Promise(() => {});
    await using fake = await startFakeAnthropic({
      script: scriptTurns([{ content: [{ type: "text", text: "never finishes this" }], hold }]),
    });
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: fake.url });
    const controller = new AbortController();
    const pending = model.stream(request(), {
      signal: controller.signal,
      onDelta: () => controller.abort(),
    });
    await expect(pending).rejects.toBeInstanceOf(ModelAbortedError);
    expect(fake.requests).toHaveLength(1);
  });

  it("does not retry without credentials", async () => {
    const model = createAnthropicAdapter({ baseURL: "http://127.0.0.1:9", maxAttempts: 3, ...fast });
    const saved = process.env.ANTHROPIC_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const err = await model.stream(request()).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "unauthorized", retryable: false, stats: { attempts: 1 } });
    } finally {
      if (saved !== undefined) process.env.ANTHROPIC_API_KEY = saved;
    }
  });

  it("fails fast with a connection error when nothing listens, after its retries", async () => {
    const model = createAnthropicAdapter({ apiKey: "k", baseURL: "http://127.0.0.1:9", maxAttempts: 2, ...fast });
    const err = await model.stream(request()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "connection", retryable: true, stats: { attempts: 2 } });
  });
});
