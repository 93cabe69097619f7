import { create } from "@bufbuild/protobuf";
import { AgentContextCompactedSchema } from "@reins/proto";
import { ContextOverflowError, ModelError } from "../errors.js";
import {
  type Entry,
  type EventPayload,
  modelSpan,
  type SessionLog,
  summaryInstruction,
  type ViewCheckpoint,
} from "../log/index.js";
import type {
  ConversationMessage,
  ModelAdapter,
  ModelRequest,
  ModelRequestStats,
  ModelToolSpec,
} from "../model/index.js";
import type { ResolvedContextPolicy } from "./context-policy.js";
import { createTokenCounter, estimateRequestTokens, inputTokensOf, type TokenCounter } from "./token-count.js";

export type CompactionReason = "threshold" | "prompt_too_long";

export interface ContextManagerOptions {
  readonly log: SessionLog;
  readonly model: ModelAdapter;
  readonly policy: ResolvedContextPolicy;
  readonly modelName: string;
  readonly system: string;
  readonly tools: readonly ModelToolSpec[];
  readonly maxTokens: number;
  readonly signal: AbortSignal;
}

/**
 * Keeps a session's requests inside the model's context window: before a
 * request that would pass the policy's budget, old tool results are cleared
 * from the view, and if that is not enough the model summarises the
 * conversation so far. Either way the result is one `agent.context_compacted`
 * event, acknowledged before any request uses it (the summary request's
 * `span.model_request` in the same append): a crash leaves no compaction or a
 * complete one, and the view is rebuilt from it on any replica.
 */
export interface ContextManager {
  readonly policy: ResolvedContextPolicy;
  readonly counter: TokenCounter;
  /** Whether the request passes the budget (asking the API's count when the estimate says so). */
  needsCompaction(request: ModelRequest): Promise<boolean>;
  /**
   * Compacts the view. `scale` corrects the estimate when the API said how
   * long a request really was. Throws ContextOverflowError when even the
   * smallest view does not fit, ModelError when the summary request failed.
   */
  compact(reason: CompactionReason, scale?: number): Promise<void>;
}

export function createContextManager(options: ContextManagerOptions): ContextManager {
  const { log, policy } = options;
  const { fold } = log;
  const counter = createTokenCounter();
  const requestOf = (messages: ConversationMessage[]): ModelRequest => ({
    model: options.modelName,
    system: options.system,
    tools: options.tools,
    messages,
    maxTokens: options.maxTokens,
  });

  return {
    policy,
    counter,
    async needsCompaction(request) {
      if (!policy.enabled || counter.count(request) <= policy.budgetTokens) return false;
      // The estimate is rough: the API's own count decides, where it answers, and anchors the next estimates.
      const exact = await options.model.countTokens?.(request, options.signal);
      if (exact === undefined) return true;
      counter.observe(request, {
        inputTokens: exact,
        outputTokens: 0,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
      });
      return exact > policy.budgetTokens;
    },

    async compact(reason, scale = 1) {
      const count = (messages: ConversationMessage[]) => Math.ceil(estimateRequestTokens(requestOf(messages)) * scale);
      const before = count(fold.conversation());
      const base = fold.checkpoint;
      const entries = fold.viewEntries();
      const resultSeqs = entries
        .flatMap((e) => (e.kind === "agent" ? e.calls.map((c) => c.resultSeq) : []))
        .filter((seq): seq is bigint => seq !== undefined);
      // 1. Clear every tool result but the last K (never un-clear one: the cached prefix stays valid).
      let cleared = base?.clearedThroughSeq ?? 0n;
      const keepFrom = resultSeqs.length - policy.keepToolResults;
      if (keepFrom > 0) cleared = max(cleared, resultSeqs[keepFrom - 1] ?? 0n);
      let next: ViewCheckpoint = {
        seq: 0n,
        summary: base?.summary ?? "",
        firstSeq: base?.firstSeq ?? 0n,
        lastSeq: base?.lastSeq ?? 0n,
        clearedThroughSeq: cleared,
      };
      let after = count(fold.conversationWith(next));
      const spans: EventPayload[] = [];
      let spanTokens = 0;
      // 2. Summarise the turns before the current one.
      const cut =
        after > policy.budgetTokens && policy.summarize
          ? cutFor(entries, (c) => count(fold.conversationWith(c)), next, policy.budgetTokens / 2)
          : undefined;
      if (cut !== undefined) {
        const summary = await summarise(next, cut, count);
        spans.push(modelSpan(summary.stats));
        spanTokens = inputTokensOf(summary.stats.usage) + summary.stats.usage.outputTokens;
        next = { ...next, summary: summary.text, firstSeq: 1n, lastSeq: cut, clearedThroughSeq: max(cleared, cut) };
        after = count(fold.conversationWith(next));
      }
      // 3. Last resort: every tool result becomes its marker, the current turn's too.
      const lastResult = resultSeqs.at(-1);
      if (after > policy.windowTokens && lastResult !== undefined && lastResult > next.clearedThroughSeq) {
        next = { ...next, clearedThroughSeq: lastResult };
        after = count(fold.conversationWith(next));
      }
      const cleared_ = resultSeqs.filter((s) => s > next.lastSeq && s <= next.clearedThroughSeq).length;
      const compacted: EventPayload = {
        case: "agentContextCompacted",
        value: create(AgentContextCompactedSchema, {
          summary: next.summary,
          firstSeq: next.firstSeq,
          lastSeq: next.lastSeq,
          tokensBefore: BigInt(before),
          tokensAfter: BigInt(after),
          toolResultsCleared: cleared_,
          clearedThroughSeq: next.clearedThroughSeq,
          reason,
          turns: fold.turns,
          totalTokens: BigInt(fold.totalTokens + spanTokens),
        }),
      };
      // Written, and acknowledged, before any request is built from it.
      await log.append(...spans, compacted);
      counter.reset();
      if (after > policy.windowTokens) {
        throw new ContextOverflowError(
          `the conversation does not fit the model's context window of ${policy.windowTokens} tokens even after compaction (about ${after} tokens)`,
        );
      }
    },
  };

  async function summarise(
    view: ViewCheckpoint,
    through: bigint,
    count: (messages: ConversationMessage[]) => number,
  ): Promise<{ text: string; stats: ModelRequestStats }> {
    let messages = withInstruction(fold.conversationWith(view, through));
    if (count(messages) > policy.windowTokens) {
      // What is summarised does not fit either: its tool outputs go, their calls stay.
      messages = withInstruction(
        fold.conversationWith({ ...view, clearedThroughSeq: max(view.clearedThroughSeq, through) }, through),
      );
    }
    if (count(messages) > policy.windowTokens) {
      throw new ContextOverflowError(
        `the conversation to summarise does not fit the model's context window of ${policy.windowTokens} tokens`,
      );
    }
    let response: Awaited<ReturnType<ModelAdapter["stream"]>>;
    try {
      response = await options.model.stream(
        { ...requestOf(messages), maxTokens: Math.min(options.maxTokens, 8_192) },
        { signal: options.signal },
      );
    } catch (err) {
      if (err instanceof ModelError && isPromptTooLong(err)) {
        throw new ContextOverflowError(`the summary request was refused as too long: ${err.message}`, err.stats, {
          cause: err,
        });
      }
      throw err;
    }
    const text = response.content
      .flatMap((b) => (b.type === "text" ? [b.text] : []))
      .join("")
      .trim();
    if (text === "") throw new ContextOverflowError("the model answered the summary request with no text", response);
    return { text, stats: response };
  }
}

/** A 400 from the model API saying the prompt does not fit its window. */
export function isPromptTooLong(err: ModelError): boolean {
  return err.kind === "invalid_request" && /prompt is too long/i.test(err.message);
}

/** How much longer the API counted a refused request than the estimate did ("N tokens > M maximum"). */
export function promptTooLongScale(err: ModelError, estimate: number): number {
  const n = Number(/(\d+) tokens >/.exec(err.message)?.[1]);
  return Number.isFinite(n) && n > 0 && estimate > 0 ? Math.max(1, n / estimate) : 1.25;
}

/**
 * The seq the summary stands for up to: just before the turn the view keeps
 * whole (from the last user message if that part fits `tailBudget`, else from
 * the last turn), moved earlier until no tool call before it has its result
 * after it, so no tool_use/tool_result pair straddles the compaction.
 * Undefined when there is nothing before that turn to summarise.
 */
function cutFor(
  entries: readonly Entry[],
  weigh: (c: ViewCheckpoint) => number,
  view: ViewCheckpoint,
  tailBudget: number,
): bigint | undefined {
  if (entries.length < 2) return undefined;
  let start = entries.length - 1;
  const lastUser = entries.findLastIndex((e) => e.kind === "user");
  if (lastUser > 0 && lastUser < start) {
    const seq = entries[lastUser]?.seq ?? 0n;
    if (weigh({ ...view, summary: "-", lastSeq: seq - 1n }) <= tailBudget) start = lastUser;
  }
  for (;;) {
    const first = entries[start];
    if (start <= 0 || !first) return undefined;
    const cut = first.seq - 1n;
    const straddles = entries
      .slice(0, start)
      .some((e) => e.kind === "agent" && e.calls.some((c) => c.resultSeq === undefined || c.resultSeq > cut));
    if (!straddles) return cut;
    start--;
  }
}

function withInstruction(messages: ConversationMessage[]): ConversationMessage[] {
  const last = messages.at(-1);
  const text = { type: "text" as const, text: summaryInstruction };
  if (last?.role === "user") return [...messages.slice(0, -1), { role: "user", content: [...last.content, text] }];
  return [...messages, { role: "user", content: [text] }];
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
