import type { ModelUsage } from "./model.js";

/** US dollars per million tokens. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
}

// List prices by model family, newest first; the first match wins. Cache writes
// (5-minute TTL) cost 1.25x input and cache reads 0.1x input, for every model.
const prices: ReadonlyArray<readonly [RegExp, ModelPrice]> = [
  [/opus-4-[5-9]|opus-[5-9]/, { input: 5, output: 25 }],
  [/opus/, { input: 15, output: 75 }],
  [/sonnet/, { input: 3, output: 15 }],
  [/haiku-4|haiku-[5-9]/, { input: 1, output: 5 }],
  [/haiku-3-5|3-5-haiku/, { input: 0.8, output: 4 }],
  [/haiku/, { input: 0.25, output: 1.25 }],
];

// Unknown models (other providers, test models) are priced like a mid-size model,
// so a budget in dollars never reads as free.
const fallback: ModelPrice = { input: 3, output: 15 };

export function priceOf(model: string): ModelPrice {
  return prices.find(([pattern]) => pattern.test(model))?.[1] ?? fallback;
}

/** Estimated cost of one request in US dollars. */
export function costOf(model: string, usage: ModelUsage): number {
  const price = priceOf(model);
  const perToken = 1 / 1_000_000;
  return (
    (usage.inputTokens * price.input +
      usage.cacheCreationInputTokens * price.input * 1.25 +
      usage.cacheReadInputTokens * price.input * 0.1 +
      usage.outputTokens * price.output) *
    perToken
  );
}
