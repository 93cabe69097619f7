import type { ExecutorInfo } from "@reins/proto";

/** What a session needs of the executor it is placed on. */
export interface PlacementNeeds {
  /** Executor tools the session may call: the executor's catalog must have every one. */
  readonly tools: readonly string[];
  /** Labels the executor must carry, each with this value (AgentConfig.executor_selector). */
  readonly selector: Readonly<Record<string, string>>;
  /** Executors not to choose (by id): one just lost, one this replica saw refusing. */
  readonly exclude?: ReadonlySet<string>;
}

export type ExecutorChoice =
  | { readonly ok: true; readonly executor: ExecutorInfo }
  /** `why` names what no live executor had: a tool, a label, or a host that is not draining. */
  | { readonly ok: false; readonly why: string };

/**
 * Chooses the executor a session is placed on, from the live ones the registry
 * listed: not draining, not excluded, with every tool the session needs and
 * every label of its selector, and then the least loaded by
 * (running + queued calls) / capacity. Ties go to the lower id, so replicas
 * looking at the same listing agree and a test can predict the choice.
 */
export function chooseExecutor(live: readonly ExecutorInfo[], needs: PlacementNeeds): ExecutorChoice {
  const available = live.filter((e) => !needs.exclude?.has(e.id));
  const withTools = available.filter((e) => needs.tools.every((t) => e.tools.includes(t)));
  const matching = withTools.filter((e) => matchesSelector(e, needs.selector));
  const open = matching.filter((e) => !e.draining);
  const best = open.reduce<ExecutorInfo | undefined>(
    (a, b) => (a === undefined || lessLoaded(b, a) ? b : a),
    undefined,
  );
  if (best) return { ok: true, executor: best };
  return { ok: false, why: whyNone(available.length, withTools.length, matching.length, needs) };
}

export function matchesSelector(executor: ExecutorInfo, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => executor.labels[key] === value);
}

/** Share of its capacity an executor has busy or queued; a capacity of 0 reads as 1 (a bad entry is not free). */
export function loadOf(executor: ExecutorInfo): number {
  return (executor.runningCalls + executor.queuedCalls) / Math.max(1, executor.capacity);
}

function lessLoaded(a: ExecutorInfo, b: ExecutorInfo): boolean {
  const la = loadOf(a);
  const lb = loadOf(b);
  return la !== lb ? la < lb : a.id < b.id;
}

/** The selector as an operator writes labels: `region=eu,gpu=true`. */
export function describeSelector(selector: Readonly<Record<string, string>>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function whyNone(available: number, withTools: number, matching: number, needs: PlacementNeeds): string {
  const tools = needs.tools.map((t) => JSON.stringify(t)).join(", ");
  if (available === 0) return "no executor is live in the registry";
  if (withTools === 0) return `no live executor has the tools ${tools}`;
  if (matching === 0) {
    return `no live executor with the tools ${tools || "(none needed)"} carries the labels ${describeSelector(needs.selector)}`;
  }
  return `every live executor that fits the session (${matching}) is draining`;
}
