import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ExecutorInfo, ExecutorInfoSchema } from "@reins/proto";
import { type KV, type KvEntry, KvWatchInclude, type QueuedIterator } from "nats";
import { ExecutorNotFoundError, JsErrCode, jsErrorCode, RegistryFullError } from "../errors.js";

/** Which live executors ListExecutors returns. */
export interface ExecutorFilter {
  /** Every one of these labels, with these values. */
  readonly selector?: Readonly<Record<string, string>>;
  /** Every one of these tools in the catalog. */
  readonly tools?: readonly string[];
  readonly excludeDraining?: boolean;
}

/**
 * The executor registry on the `<PREFIX>_EXECUTORS` bucket: one key per executor
 * id holding its ExecutorInfo. Every write reads the key and writes with the
 * revision it read (compare-and-set), retrying on a lost race, so a heartbeat
 * that raced a drain re-reads and keeps the drain rather than undoing it.
 * JetStream drops an entry `ttlMs` after its last put; since a drain is a put
 * too, liveness is also judged by `heartbeat_time`, and nothing older than the
 * TTL is ever returned. Inputs are checked by the service (validate.ts).
 */
export interface ExecutorRegistry {
  readonly ttlMs: number;
  readonly heartbeatIntervalMs: number;
  /** Resolves once the list mirror holds the whole bucket. */
  readonly initialized: Promise<void>;
  /** Registers or renews an entry; returns it as stored. */
  heartbeat(info: ExecutorInfo): Promise<ExecutorInfo>;
  /** Removes the entry of this id and incarnation; false when there was none live. */
  deregister(id: string, incarnation: string): Promise<boolean>;
  /** Live executors matching the filter, by id, from the mirror once NATS answers. */
  list(filter?: ExecutorFilter): Promise<ExecutorInfo[]>;
  /** The live entry, read from NATS; ExecutorNotFoundError otherwise. */
  get(id: string): Promise<ExecutorInfo>;
  /** Sets `draining` on a live entry; returns the entry after the change. */
  drain(id: string, draining: boolean): Promise<ExecutorInfo>;
  stop(): void;
}

export interface ExecutorRegistryOptions {
  readonly ttlMs: number;
  readonly heartbeatIntervalMs: number;
  /** Bound on live entries; a new id beyond it is RESOURCE_EXHAUSTED. Default 10,000. */
  readonly maxExecutors?: number;
  /**
   * Resolves when NATS answers right now, so a list is not an outage's frozen
   * copy of the mirror. Default: no check.
   */
  readonly checkReady?: () => Promise<void>;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

interface Mirrored {
  readonly revision: number;
  readonly info: ExecutorInfo | undefined;
}

// Races are between one executor's heartbeats and an operator's drain: a few
// rounds settle any of them.
const maxAttempts = 8;

export async function createExecutorRegistry(
  kv: KV,
  options: ExecutorRegistryOptions,
  log: (msg: string) => void,
): Promise<ExecutorRegistry> {
  const { ttlMs, heartbeatIntervalMs } = options;
  const maxExecutors = options.maxExecutors ?? 10_000;
  const now = options.now ?? Date.now;
  const mirror = new Map<string, Mirrored>();

  const decode = (entry: KvEntry): ExecutorInfo | undefined => {
    if (entry.operation !== "PUT") return undefined;
    try {
      return fromBinary(ExecutorInfoSchema, entry.value);
    } catch {
      log(`executor registry entry "${entry.key}" is not an ExecutorInfo; ignored`);
      return undefined;
    }
  };
  const isLive = (info: ExecutorInfo | undefined, at: number): info is ExecutorInfo =>
    info?.heartbeatTime !== undefined && timestampDate(info.heartbeatTime).getTime() + ttlMs > at;
  const observe = (key: string, revision: number, info: ExecutorInfo | undefined) => {
    const known = mirror.get(key);
    if (known && known.revision >= revision) return;
    mirror.set(key, { revision, info });
  };
  const liveCount = (at: number) => {
    let n = 0;
    for (const { info } of mirror.values()) if (isLive(info, at)) n++;
    return n;
  };

  let markInitialized!: () => void;
  const initialized = new Promise<void>((resolve) => (markInitialized = resolve));
  const watcher: QueuedIterator<KvEntry> = await kv.watch({
    include: KvWatchInclude.LastValue,
    initializedFn: () => markInitialized(),
  });
  void (async () => {
    for await (const entry of watcher) observe(entry.key, entry.revision, decode(entry));
  })().catch((err: unknown) => log(`executor registry watcher stopped: ${(err as Error).message}`));

  /** Reads the key fresh, lets `change` decide, writes with the revision read; again on a lost race. */
  const compareAndSet = async <T>(
    id: string,
    change: (entry: KvEntry | null, live: ExecutorInfo | undefined, at: number) => { write?: ExecutorInfo; result: T },
  ): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const entry = await kv.get(id);
      if (entry) observe(id, entry.revision, decode(entry));
      const at = now();
      const current = entry ? decode(entry) : undefined;
      const { write, result } = change(entry, isLive(current, at) ? current : undefined, at);
      if (!write) return result;
      try {
        const data = toBinary(ExecutorInfoSchema, write);
        const revision = entry ? await kv.update(id, data, entry.revision) : await kv.create(id, data);
        observe(id, revision, write);
        return result;
      } catch (err) {
        if (jsErrorCode(err) !== JsErrCode.wrongLastSequence || attempt >= maxAttempts) throw err;
      }
    }
  };

  return {
    ttlMs,
    heartbeatIntervalMs,
    initialized,

    heartbeat: (info) =>
      compareAndSet(info.id, (_entry, live, at) => {
        if (!live && liveCount(at) >= maxExecutors) {
          throw new RegistryFullError(info.id, maxExecutors);
        }
        const sameProcess = live?.incarnation === info.incarnation;
        const next = create(ExecutorInfoSchema, {
          ...info,
          // An operator's drain is of the host (the id): it outlives heartbeats and
          // a restart within the TTL. Only the operator takes it back.
          draining: live?.draining ?? false,
          registeredTime: sameProcess && live?.registeredTime ? live.registeredTime : timestampFromMs(at),
          heartbeatTime: timestampFromMs(at),
        });
        return { write: next, result: next };
      }),

    async deregister(id, incarnation) {
      for (let attempt = 1; ; attempt++) {
        const entry = await kv.get(id);
        const current = entry ? decode(entry) : undefined;
        if (!entry || !isLive(current, now()) || current.incarnation !== incarnation) return false;
        try {
          await kv.delete(id, { previousSeq: entry.revision });
          // A tombstone at the read revision: the watcher's older news cannot revive it.
          observe(id, entry.revision + 1, undefined);
          return true;
        } catch (err) {
          if (jsErrorCode(err) !== JsErrCode.wrongLastSequence || attempt >= maxAttempts) throw err;
        }
      }
    },

    async list(filter = {}) {
      await options.checkReady?.();
      await initialized;
      const at = now();
      const selector = Object.entries(filter.selector ?? {});
      const tools = filter.tools ?? [];
      const found: ExecutorInfo[] = [];
      for (const [key, { info }] of mirror) {
        // JetStream expires entries without telling watchers: forget them here.
        if (!isLive(info, at)) {
          mirror.delete(key);
          continue;
        }
        if (filter.excludeDraining && info.draining) continue;
        if (!selector.every(([k, v]) => info.labels[k] === v)) continue;
        if (!tools.every((t) => info.tools.includes(t))) continue;
        found.push(info);
      }
      return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    async get(id) {
      const entry = await kv.get(id);
      const current = entry ? decode(entry) : undefined;
      if (entry) observe(id, entry.revision, current);
      if (!isLive(current, now())) throw new ExecutorNotFoundError(id);
      return current;
    },

    drain: (id, draining) =>
      compareAndSet(id, (_entry, live) => {
        if (!live) throw new ExecutorNotFoundError(id);
        if (live.draining === draining) return { result: live };
        // heartbeat_time is left as it is: a drain does not keep a silent executor alive.
        const next = create(ExecutorInfoSchema, { ...live, draining });
        return { write: next, result: next };
      }),

    stop() {
      watcher.stop();
    },
  };
}
