import type { AgentConfig, SessionPlaced } from "@reins/proto";
import type { SessionLog } from "../log/index.js";
import { hostLostText, noHostText, type Placement, type Route } from "../placement/index.js";
import type { ExecutorPool, ToolOutcome } from "../tools/index.js";

/**
 * Where one turn's calls go. A session whose config names an executor, or a
 * harness without placement, sends them to that address (or the default); a
 * placed session to its latest `session.placed`, written here first when it
 * has none (write-ahead: the placement is in the log before the call it routes).
 */
export interface TurnRoute {
  /** Where the turn's executor calls go now. */
  readonly address: string;
  /** The result of an executor call that must not run (its host is gone, or no host fits), or undefined to run it. */
  refusal(tool: string): string | undefined;
  /**
   * For a call the host just placed on refused before it started: the session
   * had nothing there yet (no call had run, no workspace), so it is placed
   * again, once per turn, and the call goes to the address returned. Undefined
   * for any other outcome: it stands.
   */
  moveIfUnused(outcome: ToolOutcome): Promise<string | undefined>;
  /** The result the model reads instead of `outcome` when it says the host was lost under the call. */
  lostResult(tool: string, outcome: ToolOutcome): string | undefined;
  /** Whether a call found the host lost under it: the turn's results are written, then replaceIfLost. */
  mayBeLost(): boolean;
  /** After the turn's results are written: places the session again when its host was lost meanwhile. */
  replaceIfLost(): Promise<void>;
}

export async function routeTurn(
  log: SessionLog,
  config: AgentConfig,
  executors: ExecutorPool,
  placement: Placement | undefined,
  /** The turn's calls that run on an executor (not host, MCP or custom tools). */
  executorCalls: number,
): Promise<TurnRoute> {
  const needs = placementNeeds(config, log.fold.tenant, executors);
  const route: Route | undefined =
    placement && config.executorAddress === "" && executorCalls > 0 ? await placement.route(log, needs) : undefined;
  let current: SessionPlaced | undefined = route?.kind === "placed" ? route.placement : undefined;
  let moving: Promise<SessionPlaced | undefined> | undefined;
  let lost: string | undefined;
  return {
    get address() {
      return current ? current.executorAddress : config.executorAddress;
    },
    refusal(tool) {
      if (route?.kind === "lost") return hostLostText(route.executorId, tool, "not run", route.detail);
      if (route?.kind === "none") return noHostText(tool, route.why);
      return undefined;
    },
    async moveIfUnused(outcome) {
      const first = route?.kind === "placed" && route.fresh ? route.placement : undefined;
      if (!first || !placement || outcome.hostFailure?.started !== false) return undefined;
      // Parallel calls refused together move the session once.
      moving ??= placement.replace(
        log,
        needs,
        first,
        `it refused the session's first call (${outcome.hostFailure.detail})`,
      );
      const moved = await moving;
      if (moved) current = moved;
      return moved?.executorAddress;
    },
    lostResult(tool, outcome) {
      if (!current || !outcome.hostFailure) return undefined;
      // The host, and the workspace on it, are gone: the model reads so and decides what to redo.
      lost ??= outcome.hostFailure.detail;
      const ran = outcome.hostFailure.started ? "unknown" : "not run";
      return hostLostText(current.executorId, tool, ran, outcome.hostFailure.detail);
    },
    mayBeLost: () => lost !== undefined,
    async replaceIfLost() {
      if (lost === undefined || !current || !placement) return;
      await placement.replace(log, needs, current, lost);
    },
  };
}

/** What the session needs of the executor it is placed on: its executor tools (not host or MCP ones) and its selector. */
function placementNeeds(config: AgentConfig, tenant: string, executors: ExecutorPool) {
  const names = config.toolDefinitions.length > 0 ? config.toolDefinitions.map((d) => d.name) : config.tools;
  return {
    tools: names.filter((name) => executors.kindOf?.(name, tenant) === undefined),
    selector: config.executorSelector,
  };
}
