import { create } from "@bufbuild/protobuf";
import { type AgentConfig, AgentConfigSchema, type Event, EventSchema } from "@reins/proto";
import fc from "fast-check";
import { hostileIds } from "./hostile.js";

/** Any text: full Unicode (lone surrogates included), NUL bytes, or empty. */
export const anyText = (maxLength = 200) =>
  fc.oneof(
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.constantFrom("", " ", "\u0000", "a\u0000b", "\n", "日本", "🚀"),
  );

/** Session ids: valid ones, the classic hostile ones, and anything. */
export const sessionIdLike = (valid: readonly string[] = []) =>
  fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    fc.constantFrom(...hostileIds.filter(([label]) => label !== "1 MB").map(([, id]) => id), "", ...valid),
    anyText(80),
  );

/** Event ids: valid idempotency keys, a small pool (so retries and clashes happen), anything. */
export const eventIdLike = (pool: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom("", "*", ">", "a b", "e\u0000", "é", "e".repeat(129)) },
    { weight: 1, arbitrary: anyText(40) },
  );

export const uint32 = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.constantFrom(0, 1, 99, 100, 101, 1000, 1001, 2 ** 32 - 1),
);
export const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
export const uint64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 20n }));
/** Enum numbers: known values and unknown ones, negative included (open enums). */
export const enumValue = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -3, max: 1_000 }));

const usage = fc.record({ inputTokens: uint64, outputTokens: uint64 });
const json = fc.oneof(fc.json(), anyText(60));

const block = fc.oneof(
  fc.record({ case: fc.constant("text" as const), value: fc.record({ text: anyText() }) }),
  fc.record({
    case: fc.constant("thinking" as const),
    value: fc.record({ thinking: anyText(), signature: anyText(20) }),
  }),
  fc.record({
    case: fc.constant("toolUse" as const),
    value: fc.record({ id: anyText(20), name: anyText(20), inputJson: json }),
  }),
);

/** A payload of any kind (session.created, which only CreateSession may write, included), or none. */
export const payload: fc.Arbitrary<Event["payload"]> = fc.oneof(
  fc.record({ case: fc.constant("userMessage" as const), value: fc.record({ text: anyText() }) }),
  fc.record({ case: fc.constant("userInterrupt" as const), value: fc.record({ reason: anyText() }) }),
  fc.record({
    case: fc.constant("agentMessage" as const),
    value: fc.record({
      model: anyText(30),
      content: fc.array(fc.record({ block }), { maxLength: 3 }),
      stopReason: enumValue,
      usage,
      messageId: anyText(20),
    }),
  }),
  fc.record({
    case: fc.constant("agentToolUseStarted" as const),
    value: fc.record({ toolUseId: anyText(20), name: anyText(20), inputJson: json }),
  }),
  fc.record({
    case: fc.constant("agentToolResult" as const),
    value: fc.record({
      toolUseId: anyText(20),
      name: anyText(20),
      output: anyText(),
      isError: fc.boolean(),
      exitCode: int32,
      truncated: fc.boolean(),
    }),
  }),
  fc.record({
    case: fc.constant("sessionStatus" as const),
    value: fc.record({ state: enumValue, stopReason: enumValue, detail: anyText(40) }),
  }),
  fc.record({
    case: fc.constant("spanModelRequest" as const),
    value: fc.record({ model: anyText(30), usage, attempts: uint32, costUsd: fc.double(), error: anyText(40) }),
  }),
  fc.record({
    case: fc.constant("sessionError" as const),
    value: fc.record({ message: anyText(), kind: anyText(20), retryable: fc.boolean() }),
  }),
  fc.record({
    case: fc.constant("sessionCreated" as const),
    value: fc.record({ config: fc.record({ model: anyText(20) }), title: anyText(20) }),
  }),
  fc.constant({ case: undefined, value: undefined }),
) as fc.Arbitrary<Event["payload"]>;

/** An event with an id from `pool` (mostly) and any payload. */
export const event = (pool: readonly string[]) =>
  fc
    .record({ id: eventIdLike(pool), payload, seq: uint64 })
    .map(({ id, payload, seq }) => create(EventSchema, { id, payload, seq }));

/**
 * Agent configurations. `toolNames` are the names to draw tools from (plus anything);
 * `executorAddresses` the addresses to name (plus a non-URL and none).
 */
export const agentConfig = (options: {
  toolNames: readonly string[];
  executorAddresses: readonly string[];
  toolDefinitions: boolean;
}): fc.Arbitrary<AgentConfig> =>
  fc
    .record({
      model: fc.oneof(fc.constant("claude-test"), anyText(40)),
      systemPrompt: anyText(),
      tools: fc.array(fc.oneof(fc.constantFrom(...options.toolNames), anyText(30)), { maxLength: 3 }),
      executorAddress: fc.constantFrom("", "not a url", ...options.executorAddresses),
      limits: fc.record({
        maxTurns: uint32,
        maxTotalTokens: uint64,
        maxWallTime: fc.record({ seconds: fc.bigInt({ min: -10n, max: 10n ** 12n }), nanos: int32 }),
      }),
      maxTokens: uint32,
      toolDefinitions: options.toolDefinitions
        ? fc.array(
            fc.record({ name: anyText(20), description: anyText(40), inputSchemaJson: json, idempotent: fc.boolean() }),
            { maxLength: 2 },
          )
        : fc.constant<Array<{ name: string }>>([]),
    })
    .map((init) => create(AgentConfigSchema, init));
