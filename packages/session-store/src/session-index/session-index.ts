import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type RunState, type Session, SessionSchema } from "@reins/proto";
import { type KV, type KvEntry, KvWatchInclude, type QueuedIterator } from "nats";
import { InvalidRequestError, JsErrCode, jsErrorCode } from "../errors.js";

/**
 * The KV bucket is the session index: one key per session holding its folded
 * summary (`Session`). Every replica mirrors the bucket in memory through one
 * watcher, which serves ListSessions sorted newest first and tells the replica
 * when a session was deleted anywhere (to end its streams). Writes are
 * compare-and-set on the key's revision and never replace a summary with an
 * older one, so replicas writing concurrently cannot move the index backwards.
 */
export interface SessionIndex {
  /** Resolves once the mirror holds the whole bucket. */
  readonly initialized: Promise<void>;
  /**
   * Writes a session's summary, computed by `summarize` when the write runs, so
   * writes for one session coalesce into the latest. A lazy write returns at once
   * and runs within `lazyDelayMs` (the index may lag the log that long for
   * counters; state changes are written eagerly).
   */
  write(sessionId: string, summarize: () => Session, lazy?: boolean): Promise<void>;
  /** Runs every pending lazy write now and waits for all writes. */
  flush(): Promise<void>;
  /** Removes a session's entry (and its history). */
  remove(sessionId: string): Promise<void>;
  /** The mirrored summary, if any. */
  get(sessionId: string): Session | undefined;
  list(request: { pageSize: number; pageToken: string; state: RunState; tenant?: string }): {
    sessions: Session[];
    nextPageToken: string;
  };
  /** Called with a session id whenever its entry is deleted (here or elsewhere). */
  onRemoved(listener: (sessionId: string) => void): void;
  stop(): void;
}

interface Mirrored {
  readonly revision: number;
  readonly session: Session | undefined;
}

const createMillis = (s: Session) =>
  s.createTime ? Number(s.createTime.seconds) * 1000 + Math.floor(s.createTime.nanos / 1e6) : 0;

interface Position {
  readonly key: string;
  readonly millis: number;
}

// Newest first; the id breaks ties so the order (and page tokens) are total.
const compare = (a: Position, b: Position) => b.millis - a.millis || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);

/**
 * How long a lazy index write waits to coalesce with the next appends: at most
 * one write per session per second, where one per append would double the NATS
 * traffic of a busy session. GetSession is always exact (folded from the log)
 * and run-state changes are written eagerly, so only ListSessions' counters
 * (last seq, usage, cost) can lag, by up to this long.
 */
export const lazyDelayMs = 1_000;

export async function createSessionIndex(kv: KV, log: (msg: string) => void): Promise<SessionIndex> {
  const mirror = new Map<string, Mirrored>();
  const removedListeners = new Set<(sessionId: string) => void>();
  // Sort order depends only on (creation time, id), so it is rebuilt when the
  // key set changes, not on every update; pages read the latest summaries.
  let sorted: { key: string; millis: number }[] | undefined;

  const observe = (key: string, revision: number, session: Session | undefined) => {
    const known = mirror.get(key);
    if (known && known.revision >= revision) return;
    mirror.set(key, { revision, session });
    if (!session && known?.session) for (const listener of removedListeners) listener(key);
    if (!session || !known?.session || createMillis(known.session) !== createMillis(session)) sorted = undefined;
  };

  const decode = (entry: KvEntry) => {
    if (entry.operation !== "PUT") return undefined;
    try {
      return fromBinary(SessionSchema, entry.value);
    } catch {
      log(`index entry "${entry.key}" is not a Session; ignored`);
      return undefined;
    }
  };

  let markInitialized!: () => void;
  const initialized = new Promise<void>((resolve) => (markInitialized = resolve));
  const watcher: QueuedIterator<KvEntry> = await kv.watch({
    include: KvWatchInclude.LastValue,
    initializedFn: () => markInitialized(),
  });
  void (async () => {
    for await (const entry of watcher) observe(entry.key, entry.revision, decode(entry));
  })().catch((err: unknown) => log(`index watcher stopped: ${(err as Error).message}`));

  // Per-session write coalescing: the summary source waiting to be written, a
  // debounce timer for lazy writes, and the loop that writes until nothing waits.
  const waiting = new Map<string, () => Session>();
  const timers = new Map<string, NodeJS.Timeout>();
  const writers = new Map<string, Promise<void>>();

  const writeOnce = async (summary: Session) => {
    const key = summary.sessionId;
    const data = toBinary(SessionSchema, summary);
    for (let attempt = 0; ; attempt++) {
      const known = mirror.get(key);
      const current = known?.session;
      // Same incarnation (same creation time) and already at least as new: done.
      // (An entry from before latest_events were indexed is not, at the same seq.)
      if (
        current &&
        createMillis(current) === createMillis(summary) &&
        (current.lastSeq > summary.lastSeq ||
          (current.lastSeq === summary.lastSeq && current.latestEvents.length >= summary.latestEvents.length))
      ) {
        return;
      }
      try {
        const revision = await kv.put(key, data, { previousSeq: known?.revision ?? 0 });
        observe(key, revision, summary);
        return;
      } catch (err) {
        if (jsErrorCode(err) !== JsErrCode.wrongLastSequence || attempt >= 5) throw err;
        const entry = await kv.get(key);
        if (entry) observe(key, entry.revision, decode(entry));
      }
    }
  };

  const kick = (key: string): Promise<void> => {
    clearTimeout(timers.get(key));
    timers.delete(key);
    const previous = writers.get(key) ?? Promise.resolve();
    // Chained after the running write, so whatever the caller saw is covered
    // when the returned promise settles.
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        for (let next = waiting.get(key); next; next = waiting.get(key)) {
          waiting.delete(key);
          await writeOnce(next());
        }
      })
      .finally(() => {
        if (writers.get(key) === run) writers.delete(key);
      });
    writers.set(key, run);
    return run;
  };

  return {
    initialized,
    write(sessionId, summarize, lazy = false) {
      waiting.set(sessionId, summarize);
      if (!lazy) return kick(sessionId);
      // At most one lazy write per session per delay, however fast it is appended to.
      if (!timers.has(sessionId)) {
        timers.set(
          sessionId,
          setTimeout(() => {
            kick(sessionId).catch((err: unknown) =>
              log(`index write for "${sessionId}" failed: ${(err as Error).message}`),
            );
          }, lazyDelayMs),
        );
      }
      return Promise.resolve();
    },
    async flush() {
      await Promise.allSettled([...timers.keys()].map((key) => kick(key)));
      await Promise.allSettled([...writers.values()]);
    },
    async remove(sessionId) {
      waiting.delete(sessionId);
      clearTimeout(timers.get(sessionId));
      timers.delete(sessionId);
      await writers.get(sessionId)?.catch(() => undefined);
      await kv.purge(sessionId);
      const entry = await kv.get(sessionId);
      if (entry) observe(sessionId, entry.revision, undefined);
    },
    get: (sessionId) => mirror.get(sessionId)?.session,
    list({ pageSize, pageToken, state, tenant }) {
      const size = pageSize === 0 ? 100 : pageSize;
      if (size > 1000) throw new InvalidRequestError(`page_size ${pageSize} is over the maximum of 1000`);
      if (!sorted) {
        sorted = [];
        for (const [key, { session }] of mirror) if (session) sorted.push({ key, millis: createMillis(session) });
        sorted.sort(compare);
      }
      const order = sorted;
      let start = 0;
      if (pageToken !== "") {
        const after = parsePageToken(pageToken);
        // First index strictly after the token's position in the order.
        let lo = 0;
        let hi = order.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (compare(order[mid] as Position, after) <= 0) lo = mid + 1;
          else hi = mid;
        }
        start = lo;
      }
      const sessions: Session[] = [];
      let i = start;
      for (; i < order.length && sessions.length < size; i++) {
        const s = mirror.get((order[i] as Position).key)?.session;
        if (s && (state === 0 || s.state === state) && (tenant === undefined || s.tenant === tenant)) sessions.push(s);
      }
      const last = sessions[sessions.length - 1];
      const more = i < sorted.length && last !== undefined;
      return { sessions, nextPageToken: more ? makePageToken(last) : "" };
    },
    onRemoved(listener) {
      removedListeners.add(listener);
    },
    stop() {
      watcher.stop();
    },
  };
}

function makePageToken(s: Session): string {
  return Buffer.from(JSON.stringify([createMillis(s), s.sessionId])).toString("base64url");
}

// The token is a position (creation time, id), not an offset, so sessions
// created or deleted between pages neither repeat nor hide others.
function parsePageToken(token: string): Position {
  try {
    const [millis, key] = JSON.parse(Buffer.from(token, "base64url").toString()) as [unknown, unknown];
    if (typeof millis === "number" && typeof key === "string") return { key, millis };
  } catch {
    // fall through
  }
  throw new InvalidRequestError(`page_token ${JSON.stringify(token.slice(0, 80))} is invalid: pass a next_page_token`);
}
