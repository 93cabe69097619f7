import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { inputTokensOf } from "./context.js";
import { assistantTurns, scriptTurns } from "./script.js";
import { startFakeAnthropic } from "./server.js";

function client(url: string) {
  return new Anthropic({ apiKey: "test-key", baseURL: url, maxRetries: 0 });
}

const long = (n: number) => "word ".repeat(n);

describe("fake Anthropic context window", () => {
  it("refuses a request over its window with the API's prompt-too-long 400, and takes one under it", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]), contextWindowTokens: 1_000 });
    const anthropic = client(fake.url);
    const tooLong = { model: "m", max_tokens: 9, messages: [{ role: "user" as const, content: long(1_000) }] };
    const tokens = inputTokensOf(tooLong);
    expect(tokens).toBeGreaterThan(1_000);
    const refused = anthropic.messages.stream(tooLong).finalMessage();
    await expect(refused).rejects.toMatchObject({ status: 400, type: "invalid_request_error" });
    await expect(refused).rejects.toThrow(`prompt is too long: ${tokens} tokens > 1000 maximum`);
    const fits = await anthropic.messages
      .stream({ model: "m", max_tokens: 9, messages: [{ role: "user", content: long(100) }] })
      .finalMessage();
    expect(fits.stop_reason).toBe("end_turn");
    // Usage counts the same tokens the window is checked against.
    fake.setContextWindow(undefined);
    const unlimited = await anthropic.messages.create(tooLong);
    expect(unlimited.usage.input_tokens).toBe(tokens);
  });

  it("answers count_tokens through the SDK with the count its window uses, and 404 when told not to", async () => {
    await using fake = await startFakeAnthropic({ script: scriptTurns([]) });
    const request = { model: "m", messages: [{ role: "user" as const, content: long(300) }] };
    const counted = await client(fake.url).messages.countTokens(request);
    expect(counted.input_tokens).toBe(inputTokensOf(request));
    await using without = await startFakeAnthropic({ script: scriptTurns([]), countTokens: false });
    await expect(client(without.url).messages.countTokens(request)).rejects.toMatchObject({ status: 404 });
  });

  it("summarises a conversation when asked, and the scripted model keeps counting turns after it", async () => {
    await using fake = await startFakeAnthropic({
      script: scriptTurns([
        { content: [{ type: "text", text: "first" }] },
        { content: [{ type: "text", text: "second" }] },
      ]),
    });
    const anthropic = client(fake.url);
    const summary = await anthropic.messages.create({
      model: "m",
      max_tokens: 99,
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: "first" },
        { role: "user", content: [{ type: "text", text: "Summarize the conversation so far." }] },
      ],
    });
    const text = summary.content[0]?.type === "text" ? summary.content[0].text : "";
    expect(text).toContain("[earlier assistant turns: 1]");
    expect(text).toContain("The assistant last said: first");
    // A conversation that opens with that summary stands for one assistant turn: the script answers turn 2.
    const body = {
      model: "m",
      max_tokens: 9,
      messages: [{ role: "user" as const, content: [{ type: "text" as const, text }] }],
    };
    expect(assistantTurns(body)).toBe(1);
    const next = await anthropic.messages.create(body);
    expect(next.content[0]).toMatchObject({ type: "text", text: "second" });
  });
});
