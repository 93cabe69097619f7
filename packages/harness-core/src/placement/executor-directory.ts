import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { type ExecutorInfo, ExecutorInfoSchema, type ExecutorRegistryService } from "@reins/proto";

/**
 * The live executors as the registry (on the session service) lists them, read
 * through a short cache: every placement and every routed call looks here, and
 * a fleet's listing changes at heartbeat pace, not per call.
 */
export interface ExecutorDirectory {
  /** Live executors, draining ones included (their placed sessions still go there). */
  list(options?: { fresh?: boolean }): Promise<readonly ExecutorInfo[]>;
  /**
   * Records that this incarnation failed a call as a host that is gone
   * (refusing, its stream broken): it is not chosen again until it heartbeats
   * under a new incarnation or `lostHoldMs` passes, even while the registry
   * still lists it for the rest of its TTL.
   */
  markLost(id: string, incarnation: string): void;
  /** Whether this incarnation was marked lost (and the mark still holds). */
  isLost(executor: Pick<ExecutorInfo, "id" | "incarnation">): boolean;
  /**
   * Counts a session this replica just placed on `id` as one more queued call
   * there until the next listing: sessions placed in one cache window spread
   * over the fleet instead of all landing on the executor that was least
   * loaded when it was listed.
   */
  notePlaced(id: string): void;
  /** Whether any listing named this address: the executor token may go there. */
  isRegistered(address: string): boolean;
}

export interface ExecutorDirectoryOptions {
  readonly registry: Pick<Client<typeof ExecutorRegistryService>, "listExecutors">;
  /** How long one listing serves (REINS_HARNESS_PLACEMENT_CACHE_MS). Default 1000. */
  readonly cacheMs?: number;
  /** How long a lost mark holds. Default 30 s: past any registry TTL worth having. */
  readonly lostHoldMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const listTimeoutMs = 10_000;

// Addresses remembered as registered: bounded, oldest forgotten first.
const maxRememberedAddresses = 4096;

export function createExecutorDirectory(options: ExecutorDirectoryOptions): ExecutorDirectory {
  const cacheMs = options.cacheMs ?? 1000;
  const lostHoldMs = options.lostHoldMs ?? 30_000;
  const now = options.now ?? Date.now;
  let cached: { at: number; executors: ExecutorInfo[] } | undefined;
  // One listing in flight serves every caller that asks meanwhile.
  let pending: Promise<readonly ExecutorInfo[]> | undefined;
  const lost = new Map<string, number>();
  const addresses = new Set<string>();

  const remember = (executors: readonly ExecutorInfo[]) => {
    for (const e of executors) {
      const address = normalize(e.address);
      addresses.delete(address);
      addresses.add(address);
    }
    while (addresses.size > maxRememberedAddresses) {
      const oldest = addresses.values().next().value as string;
      addresses.delete(oldest);
    }
  };
  const key = (id: string, incarnation: string) => `${id}\n${incarnation}`;

  return {
    async list({ fresh = false } = {}) {
      if (!fresh && cached && now() - cached.at < cacheMs) return cached.executors;
      if (!pending) {
        pending = options.registry
          // Shared by callers with their own signals: bounded by time, not by any one of them.
          .listExecutors({}, { timeoutMs: listTimeoutMs })
          .then(({ executors }) => {
            cached = { at: now(), executors: [...executors] };
            remember(executors);
            return executors;
          })
          .finally(() => {
            pending = undefined;
          });
      }
      return pending;
    },
    notePlaced(id) {
      if (!cached) return;
      cached.executors = cached.executors.map((e) =>
        e.id === id ? create(ExecutorInfoSchema, { ...e, queuedCalls: e.queuedCalls + 1 }) : e,
      );
    },
    markLost(id, incarnation) {
      const at = now();
      for (const [k, until] of lost) if (until <= at) lost.delete(k);
      lost.set(key(id, incarnation), at + lostHoldMs);
    },
    isLost(executor) {
      const until = lost.get(key(executor.id, executor.incarnation));
      return until !== undefined && until > now();
    },
    isRegistered: (address) => addresses.has(normalize(address)),
  };
}

// "http://127.0.0.1:7003/" and "HTTP://127.0.0.1:7003" are one executor.
function normalize(address: string): string {
  return URL.canParse(address) ? new URL(address).href.replace(/\/+$/, "") : address;
}
