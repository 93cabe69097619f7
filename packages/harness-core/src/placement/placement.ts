import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutorInfo, SessionPlaced } from "@reins/proto";
import { type SessionLog, sessionPlaced } from "../log/index.js";
import { hostFailureOf } from "../tools/index.js";
import { chooseExecutor, type PlacementNeeds } from "./choose-executor.js";
import type { ExecutorDirectory } from "./executor-directory.js";

// Hosts a read tries before it gives up: a few dead entries, not a whole fleet.
const maxHostsTried = 3;

/** Where a turn's executor calls go. */
export type Route =
  /** To the session's placement (written before this returns, when it is new: then `fresh`). */
  | { readonly kind: "placed"; readonly placement: SessionPlaced; readonly fresh: boolean }
  /** The placed host is gone: the calls do not run, their results say so; the session was placed again if it could be. */
  | { readonly kind: "lost"; readonly executorId: string; readonly detail: string }
  /** No live executor fits the session: the calls do not run. */
  | { readonly kind: "none"; readonly why: string };

/**
 * Placement of sessions on the executors of the registry, for sessions whose
 * config names no executor. A session's placement is an event in its log
 * (`session.placed`), written before the first call it routes, so every
 * replica, after any crash, sends that session's calls to the same host: the
 * one its workspace is on. A session stays where it is placed while its host is
 * live, draining or not (running calls finish, later ones still find their
 * workspace); draining only turns new placements away. It moves only when the
 * host is lost, and then the calls that could not run there say so.
 */
export interface Placement {
  /** The route of the session's next executor calls, placing the session first when it has no live placement. */
  route(log: SessionLog, needs: PlacementNeeds): Promise<Route>;
  /**
   * The placed host failed a call as a host that is gone (`detail` says how):
   * it is marked lost and the session is placed again, if any executor fits:
   * the new placement, or undefined when none did.
   */
  replace(
    log: SessionLog,
    needs: PlacementNeeds,
    lost: SessionPlaced,
    detail: string,
  ): Promise<SessionPlaced | undefined>;
  /**
   * `read` (a new session's tool catalog, say) from a live executor that fits
   * `needs`; one that fails as a host that is gone is marked lost and the next
   * is tried. FAILED_PRECONDITION naming what no live executor had.
   */
  fromFittingHost<T>(needs: PlacementNeeds, read: (address: string) => Promise<T>): Promise<T>;
}

export interface PlacementOptions {
  readonly directory: ExecutorDirectory;
  /** Called with each placement step's duration (ms) and whether it wrote a placement. */
  readonly onPlaced?: (ms: number, placement: SessionPlaced) => void;
}

export function createPlacement(options: PlacementOptions): Placement {
  const { directory } = options;
  const usable = (live: readonly ExecutorInfo[]) => live.filter((e) => !directory.isLost(e));

  // Chooses and writes a placement; when no executor fits, writes nothing and says why.
  // The choice is counted against its executor before the append: placements
  // racing in one cache window see it and go elsewhere.
  async function place(
    log: SessionLog,
    needs: PlacementNeeds,
    fresh: boolean,
    previous: SessionPlaced | undefined,
    reason: string,
    started: number,
  ): Promise<SessionPlaced | string> {
    const choice = chooseExecutor(usable(await directory.list({ fresh })), needs);
    if (!choice.ok) return choice.why;
    const { executor } = choice;
    directory.notePlaced(executor.id);
    await log.append(
      sessionPlaced({
        executorId: executor.id,
        executorAddress: executor.address,
        incarnation: executor.incarnation,
        previousExecutorId: previous?.executorId ?? "",
        reason,
      }),
    );
    const placement = log.fold.placement as SessionPlaced;
    options.onPlaced?.(performance.now() - started, placement);
    return placement;
  }

  return {
    async route(log, needs) {
      const started = performance.now();
      const current = log.fold.placement;
      if (!current) {
        const placement = await place(log, needs, false, undefined, "first call", started);
        return typeof placement === "string"
          ? { kind: "none", why: placement }
          : { kind: "placed", placement, fresh: true };
      }
      const gone = whyGone(current, await directory.list(), directory);
      if (!gone) return { kind: "placed", placement: current, fresh: false };
      await place(log, needs, false, current, `executor ${current.executorId} was lost: ${gone}`, started);
      return { kind: "lost", executorId: current.executorId, detail: gone };
    },

    async replace(log, needs, lost, detail) {
      const started = performance.now();
      directory.markLost(lost.executorId, lost.incarnation);
      const placed = await place(log, needs, true, lost, `executor ${lost.executorId} was lost: ${detail}`, started);
      return typeof placed === "string" ? undefined : placed;
    },

    async fromFittingHost(needs, read) {
      for (let attempt = 1; ; attempt++) {
        const choice = chooseExecutor(usable(await directory.list()), needs);
        if (!choice.ok) throw new ConnectError(`the session cannot be placed: ${choice.why}`, Code.FailedPrecondition);
        try {
          return await read(choice.executor.address);
        } catch (err) {
          // A host still listed for the rest of its TTL after it went away.
          if (attempt >= maxHostsTried || !hostFailureOf(err)) throw err;
          directory.markLost(choice.executor.id, choice.executor.incarnation);
        }
      }
    },
  };
}

/** Why the placed executor can no longer take the session's calls; undefined while it can. */
function whyGone(
  current: SessionPlaced,
  live: readonly ExecutorInfo[],
  directory: ExecutorDirectory,
): string | undefined {
  const entry = live.find((e) => e.id === current.executorId);
  if (!entry) return "it is no longer live in the registry (no heartbeat within its TTL)";
  if (entry.incarnation !== current.incarnation) {
    return `it restarted (incarnation ${entry.incarnation}, the session was placed on ${current.incarnation})`;
  }
  if (directory.isLost(entry)) return "it stopped taking calls";
  return undefined;
}
