import type { ResolvedOptions } from "./config.js";
import type { StoreConnection } from "./connection.js";
import type { createKeyedMutex } from "./keyed-mutex.js";
import type { AppendLimits } from "./limits/index.js";
import type { LogReader, StateCache } from "./log/index.js";
import type { SessionIndex } from "./session-index/index.js";
import type { StoreMetrics } from "./store-metrics.js";

/** What the store's operations share; built once by createSessionStore. */
export interface StoreContext {
  readonly options: ResolvedOptions;
  readonly conn: StoreConnection;
  readonly reader: LogReader;
  readonly cache: StateCache;
  readonly index: SessionIndex;
  /** Per-session log size and event rate limits. */
  readonly limits: AppendLimits;
  readonly withLock: ReturnType<typeof createKeyedMutex>;
  readonly log: (msg: string) => void;
  readonly metrics: StoreMetrics;
  subjectOf(sessionId: string): string;
  /** Largest encoded batch accepted: the stream's and the server's limits, less header room. */
  maxBatchBytes(): number;
}
