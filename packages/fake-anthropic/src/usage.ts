import { createHash } from "node:crypto";
import type { FakeTurn, FakeUsage, MessagesRequestBody } from "./types.js";

/** A rough token count: four characters per token, as a rule of thumb. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Simulates the prompt cache: the request is read as the API caches it (tools,
 * then system, then messages, block by block); every block with
 * `cache_control` ends a cacheable prefix. The longest prefix seen before is a
 * cache read; the rest up to the last breakpoint is a cache write. So a client
 * that keeps its breakpoints stable sees cache reads grow turn after turn.
 */
export function createPromptCache() {
  const stored = new Set<string>();
  return {
    usageFor(body: MessagesRequestBody, turn: FakeTurn): FakeUsage {
      const units = unitsOf(body);
      const total = estimateTokens(units.join(""));
      let read = 0;
      let lastBreakpoint = -1;
      const keys: Array<{ key: string; tokens: number }> = [];
      const marked = breakpoints(body);
      units.forEach((_, i) => {
        if (!marked.has(i)) return;
        lastBreakpoint = i;
        const prefix = units.slice(0, i + 1).join("");
        const key = createHash("sha256").update(prefix).digest("hex");
        const tokens = estimateTokens(prefix);
        keys.push({ key, tokens });
        if (stored.has(key)) read = Math.max(read, tokens);
      });
      const cached = lastBreakpoint < 0 ? 0 : estimateTokens(units.slice(0, lastBreakpoint + 1).join(""));
      const creation = Math.max(0, cached - read);
      for (const { key } of keys) stored.add(key);
      const output = estimateTokens(JSON.stringify(turn.content));
      return {
        input_tokens: Math.max(1, total - read - creation),
        output_tokens: Math.max(1, output),
        cache_creation_input_tokens: creation,
        cache_read_input_tokens: read,
        ...turn.usage,
      };
    },
  };
}

// Canonical text of each cacheable unit, without its cache_control marker.
export function unitsOf(body: MessagesRequestBody): string[] {
  const units: string[] = [];
  for (const tool of asArray(body.tools)) units.push(`tool:${canonical(tool)}`);
  if (typeof body.system === "string") units.push(`system:${body.system}`);
  for (const block of asArray(body.system)) units.push(`system:${canonical(block)}`);
  for (const message of asArray(body.messages)) {
    const m = message as { role?: unknown; content?: unknown };
    if (typeof m.content === "string") units.push(`${String(m.role)}:${m.content}`);
    for (const block of asArray(m.content)) units.push(`${String(m.role)}:${canonical(block)}`);
  }
  return units;
}

// Unit indexes that carry cache_control, in the same order as unitsOf.
function breakpoints(body: MessagesRequestBody): Set<number> {
  const marked = new Set<number>();
  let i = 0;
  const visit = (block: unknown) => {
    if (hasCacheControl(block)) marked.add(i);
    i++;
  };
  asArray(body.tools).forEach(visit);
  if (typeof body.system === "string") i++;
  asArray(body.system).forEach(visit);
  for (const message of asArray(body.messages)) {
    const m = message as { content?: unknown };
    if (typeof m.content === "string") i++;
    asArray(m.content).forEach(visit);
  }
  return marked;
}

function hasCacheControl(block: unknown): boolean {
  return typeof block === "object" && block !== null && "cache_control" in block && block.cache_control != null;
}

function canonical(block: unknown): string {
  if (typeof block !== "object" || block === null) return JSON.stringify(block);
  const { cache_control: _ignored, ...rest } = block as Record<string, unknown>;
  return JSON.stringify(rest);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
