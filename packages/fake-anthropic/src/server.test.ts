import http from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { lastToolResults, scriptTurns } from "./script.js";
import { startFakeAnthropic } from "./server.js";
import type { FakeTurn } from "./types.js";

const tools = [
  {
    name: "bash",
    description: "run a command",
    input_schema: { type: "object" as const, properties: { command: { type: "string" } } },
  },
];

function client(url: string, maxRetries = 0) {
  return new Anthropic({ apiKey: "test-key", baseURL: url, maxRetries });
}

const parallelTools: FakeTurn = {
  content: [
    { type: "text", text: "Let me run two commands at once." },
    { type: "tool_use", name: "bash", input: { command: "echo one && echo 'a \"quoted\" two'" } },
    { type: "tool_use", name: "bash", input: { command: "ls -la /tmp", nested: { deep: [1, 2, 3] } } },
  ],
};

describe("fake Anthropic Messages API", () => {
  it("streams text, thinking and parallel tool_use blocks the real SDK reassembles", async () => {
    await using fake = await startFakeAnthropic({
      script: scriptTurns([
        {
          content: [{ type: "thinking", thinking: "The user wants two things." }, ...parallelTools.content],
        },
      ]),
    });
    const stream = client(fake.url).messages.stream({
      model: "claude-test",
      max_tokens: 1024,
      tools,
      messages: [{ role: "user", content: "do it" }],
    });
    const texts: string[] = [];
    const jsonPieces: string[] = [];
    const rawTypes: string[] = [];
    stream.on("text", (delta) => texts.push(delta));
    stream.on("inputJson", (delta) => jsonPieces.push(delta));
    stream.on("streamEvent", (event) => rawTypes.push(event.type));
    const message = await stream.finalMessage();

    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((b) => b.type)).toEqual(["thinking", "text", "tool_use", "tool_use"]);
    const uses = message.content.filter((b) => b.type === "tool_use");
    expect(uses.map((u) => u.input)).toEqual([
      { command: "echo one && echo 'a \"quoted\" two'" },
      { command: "ls -la /tmp", nested: { deep: [1, 2, 3] } },
    ]);
    expect(new Set(uses.map((u) => u.id)).size).toBe(2);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join("")).toBe("Let me run two commands at once.");
    // Tool input arrives in several pieces, not one.
    expect(jsonPieces.filter((p) => p !== "").length).toBeGreaterThanOrEqual(6);
    expect(rawTypes[0]).toBe("message_start");
    expect(rawTypes.at(-2)).toBe("message_delta");
    expect(rawTypes.at(-1)).toBe("message_stop");
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]?.body?.stream).toBe(true);
    const { authorization, "x-api-key": apiKey } = fake.requests[0]?.headers ?? {};
    expect(apiKey ?? authorization).toMatch(/^(Bearer )?test-key$/);
  });

  it("streams ping events as the real API does", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "k", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    expect(text).toContain("event: ping\n");
    expect(text.split("\n\n").filter(Boolean).at(-1)).toBe('event: message_stop\ndata: {"type":"message_stop"}');
  });

  it("lets a scripted model react to tool results, and answers without streaming too", async () => {
    await using fake = await startFakeAnthropic({
      script: scriptTurns([
        parallelTools,
        (request) => ({
          content: [
            {
              type: "text",
              text: `got ${lastToolResults(request.body)
                .map((r) => r.content)
                .join("+")}`,
            },
          ],
        }),
      ]),
    });
    const anthropic = client(fake.url);
    const first = await anthropic.messages.create({
      model: "claude-test",
      max_tokens: 100,
      tools,
      messages: [{ role: "user", content: "go" }],
    });
    const ids = first.content.flatMap((b) => (b.type === "tool_use" ? [b.id] : []));
    const second = await anthropic.messages
      .stream({
        model: "claude-test",
        max_tokens: 100,
        tools,
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: ids.map((id, n) => ({ type: "tool_result" as const, tool_use_id: id, content: `r${n}` })),
          },
        ],
      })
      .finalMessage();
    expect(second.content).toEqual([{ type: "text", text: "got r0+r1" }]);
    expect(second.stop_reason).toBe("end_turn");
  });

  it("rejects a tool_use without its tool_result with 400 invalid_request_error", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([parallelTools]) });
    const anthropic = client(fake.url);
    const first = await anthropic.messages
      .stream({ model: "m", max_tokens: 9, tools, messages: [{ role: "user", content: "go" }] })
      .finalMessage();
    const [a, b] = first.content.flatMap((x) => (x.type === "tool_use" ? [x.id] : []));
    const missingOne = anthropic.messages
      .stream({
        model: "m",
        max_tokens: 9,
        tools,
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: first.content },
          { role: "user", content: [{ type: "tool_result", tool_use_id: String(a), content: "x" }] },
        ],
      })
      .finalMessage();
    await expect(missingOne).rejects.toMatchObject({ status: 400, type: "invalid_request_error" });
    await expect(missingOne).rejects.toThrow(`without \`tool_result\` blocks immediately after: ${b}`);

    const textFirst = anthropic.messages.create({
      model: "m",
      max_tokens: 9,
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [
            { type: "text", text: "hi" },
            { type: "tool_result", tool_use_id: String(a), content: "x" },
            { type: "tool_result", tool_use_id: String(b), content: "y" },
          ],
        },
      ],
    });
    await expect(textFirst).rejects.toMatchObject({ status: 400 });
    expect(fake.requests.map((r) => r.status)).toEqual([200, 400, 400]);
  });

  it("injects 429 with retry-after, 529 overloaded and 500, which the SDK sees as such", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    const params = { model: "m", max_tokens: 9, messages: [{ role: "user" as const, content: "hi" }] };
    fake.failNext({ fault: "rate_limit", retryAfterSeconds: 7 });
    fake.failNext({ fault: "overloaded" });
    fake.failNext({ fault: "server_error" });
    const anthropic = client(fake.url);
    const rate = await anthropic.messages
      .stream(params)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(rate).toBeInstanceOf(Anthropic.RateLimitError);
    expect((rate as InstanceType<typeof Anthropic.APIError>).headers?.get("retry-after")).toBe("7");
    const overloaded = await anthropic.messages
      .stream(params)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(overloaded).toMatchObject({ status: 529, type: "overloaded_error" });
    const internal = await anthropic.messages
      .stream(params)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(internal).toBeInstanceOf(Anthropic.InternalServerError);
    // With retries on, the SDK gets through a fault on its own.
    fake.failNext({ fault: "server_error" });
    const ok = await client(fake.url, 2).messages.stream(params).finalMessage();
    expect(ok.content).toEqual([{ type: "text", text: "Done." }]);
    expect(fake.requests.map((r) => r.outcome)).toEqual([
      "rate_limit",
      "overloaded",
      "server_error",
      "server_error",
      "ok",
    ]);
  });

  it("answers any scripted status with the API's error type for it, or the one given", async () => {
    await using fake = await startFakeAnthropic({
      script: () => ({ fault: "status", status: 400, message: "prompt is too long: 210000 tokens > 200000 maximum" }),
    });
    fake.failNext({ fault: "status", status: 401 });
    fake.failNext({ fault: "status", status: 404, type: "not_found_error", message: "model: claude-nope" });
    const params = { model: "m", max_tokens: 9, messages: [{ role: "user" as const, content: "hi" }] };
    const anthropic = client(fake.url);
    const call = () =>
      anthropic.messages
        .stream(params)
        .finalMessage()
        .catch((e: unknown) => e);
    expect(await call()).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(await call()).toMatchObject({
      status: 404,
      type: "not_found_error",
      error: { error: { message: "model: claude-nope" } },
    });
    const tooLong = await call();
    expect(tooLong).toBeInstanceOf(Anthropic.BadRequestError);
    expect((tooLong as Error).message).toContain("prompt is too long");
    expect(fake.requests.map((r) => r.status)).toEqual([401, 404, 400]);
  });

  it("drops the connection mid-stream so the SDK fails instead of returning a partial message", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    fake.failNext({ fault: "drop", afterEvents: 4 });
    const stream = client(fake.url).messages.stream({
      model: "m",
      max_tokens: 9,
      messages: [{ role: "user", content: "hi" }],
    });
    const seen: string[] = [];
    stream.on("streamEvent", (e) => seen.push(e.type));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(seen).toContain("message_start");
    expect(seen).not.toContain("message_stop");
  });

  it("holds a response in flight until released or the client aborts", async () => {
    let release = () => {};
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    await using fake = await startFakeAnthropic({
      script: scriptTurns([{ content: [{ type: "text", text: "slow words arrive later" }], hold }]),
    });
    const controller = new AbortController();
    const stream = client(fake.url).messages.stream(
      { model: "m", max_tokens: 9, messages: [{ role: "user", content: "hi" }] },
      { signal: controller.signal },
    );
    const firstText = new Promise((resolve) => stream.once("text", resolve));
    await firstText;
    controller.abort();
    await expect(stream.finalMessage()).rejects.toThrow(/abort/i);
    release();
  });

  it("calls a hold function once the first delta is written, and finishes the answer when it settles", async () => {
    const seenAtHold: string[][] = [];
    const seen: string[] = [];
    await using fake = await startFakeAnthropic({
      script: scriptTurns([
        {
          content: [{ type: "text", text: "half now, half later" }],
          hold: async () => {
            // The client has the first delta before the hold lets the rest go.
            await new Promise((resolve) => stream.once("text", resolve));
            seenAtHold.push([...seen]);
          },
        },
      ]),
    });
    const stream = client(fake.url).messages.stream({
      model: "m",
      max_tokens: 9,
      messages: [{ role: "user", content: "hi" }],
    });
    stream.on("streamEvent", (e) => seen.push(e.type));
    const message = await stream.finalMessage();
    expect(message.content[0]).toMatchObject({ type: "text", text: "half now, half later" });
    expect(seenAtHold).toHaveLength(1);
    expect(seenAtHold[0]).not.toContain("message_stop");
    expect(seen).toContain("message_stop");
  });

  it("reports prompt-cache reads for a repeated prefix with cache_control", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    const anthropic = client(fake.url);
    const system = [
      { type: "text" as const, text: "You are helpful. ".repeat(200), cache_control: { type: "ephemeral" as const } },
    ];
    const first = await anthropic.messages
      .stream({ model: "m", max_tokens: 9, system, messages: [{ role: "user", content: "a" }] })
      .finalMessage();
    const second = await anthropic.messages
      .stream({ model: "m", max_tokens: 9, system, messages: [{ role: "user", content: "b" }] })
      .finalMessage();
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
  });

  it("rejects requests without an API key, and unknown paths", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]), apiKey: "right" });
    const wrong = await new Anthropic({ apiKey: "wrong", baseURL: fake.url, maxRetries: 0 }).messages
      .create({ model: "m", max_tokens: 9, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    const status = await new Promise<number | undefined>((resolve) =>
      http.get(`${fake.url}/v1/nothing`, (res) => {
        res.resume();
        resolve(res.statusCode);
      }),
    );
    expect(status).toBe(404);
  });
});
