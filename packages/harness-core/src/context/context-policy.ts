import type { AgentConfig, ContextPolicy } from "@reins/proto";

/** A session's context policy with every default filled in. */
export interface ResolvedContextPolicy {
  /** False when the session turned context management off. */
  readonly enabled: boolean;
  /** The model's context window, in input tokens. */
  readonly windowTokens: number;
  /** The fraction of the window the next request may take before the view is compacted. */
  readonly threshold: number;
  /** Most recent tool results kept whole when older ones are cleared. */
  readonly keepToolResults: number;
  /** Whether the model summarises the conversation when clearing is not enough. */
  readonly summarize: boolean;
  /** windowTokens x threshold: the budget of one request's input. */
  readonly budgetTokens: number;
}

/** The window of a model this table does not know. */
export const defaultContextWindow = 200_000;

// Context windows by model family; the first match wins. Every Claude model
// has a 200k window (the 1M beta is opt-in per request, which this harness
// does not send).
const windows: ReadonlyArray<readonly [RegExp, number]> = [[/^claude-/, 200_000]];

export const contextDefaults = { threshold: 0.8, keepToolResults: 5, summarize: true } as const;

// A window so small that no conversation fits it is a typo, not a policy.
const minWindow = 1_024;
const maxWindow = 10_000_000;
const maxKeep = 10_000;

/** The context window of a model, from the table of known models. */
export function contextWindowOf(model: string): number {
  return windows.find(([pattern]) => pattern.test(model))?.[1] ?? defaultContextWindow;
}

export function resolveContextPolicy(config: AgentConfig): ResolvedContextPolicy {
  const policy = config.contextPolicy;
  const windowTokens = policy?.contextWindowTokens || contextWindowOf(config.model);
  const threshold = policy?.threshold || contextDefaults.threshold;
  return {
    enabled: policy?.disabled !== true,
    windowTokens,
    threshold,
    keepToolResults: policy?.keepToolResults ?? contextDefaults.keepToolResults,
    summarize: policy?.summarize ?? contextDefaults.summarize,
    budgetTokens: Math.floor(windowTokens * threshold),
  };
}

/** What is wrong with a context policy, as an INVALID_ARGUMENT message, or undefined. */
export function contextPolicyProblem(policy: ContextPolicy | undefined): string | undefined {
  if (!policy) return undefined;
  const window = policy.contextWindowTokens;
  if (window !== 0 && (window < minWindow || window > maxWindow)) {
    return `config.context_policy.context_window_tokens ${window} is out of range: 0 (the model's) or ${minWindow}..${maxWindow}`;
  }
  const t = policy.threshold;
  if (!Number.isFinite(t) || t < 0 || t > 1) {
    return `config.context_policy.threshold ${t} is out of range: a fraction of the window in (0, 1], or 0 for ${contextDefaults.threshold}`;
  }
  if (policy.keepToolResults !== undefined && policy.keepToolResults > maxKeep) {
    return `config.context_policy.keep_tool_results ${policy.keepToolResults} is out of range: 0..${maxKeep}`;
  }
  return undefined;
}
