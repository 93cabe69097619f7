import type { LogReader } from "./log-reader.js";
import { firstSeqOf, SessionState, type StoredBatch } from "./session-state.js";

/**
 * Session states of the sessions this replica touched recently, least recently
 * used evicted first once they hold more than `maxBytes` (their estimated
 * memory, decoded events included, which grows as events are decoded on read). Every method
 * that returns a state first brings it up to the log's current end, so callers
 * never act on a stale view (appends are additionally protected by the fence).
 */
export interface StateCache {
  /** The state, current as of the call; undefined when the session has no log. */
  load(sessionId: string): Promise<SessionState | undefined>;
  /** The cached state without touching NATS (may be stale), if any. */
  peek(sessionId: string): SessionState | undefined;
  /** Records a batch this replica just wrote. */
  applyWritten(state: SessionState, batch: StoredBatch): void;
  /** Starts a state for a session this replica just created. */
  adoptCreated(sessionId: string, batch: StoredBatch): SessionState;
  drop(sessionId: string): void;
}

export function createStateCache(options: {
  reader: LogReader;
  subjectOf: (sessionId: string) => string;
  maxBytes: number;
}): StateCache {
  const { reader, subjectOf, maxBytes } = options;
  const states = new Map<string, SessionState>();
  const running = new Map<string, Promise<SessionState | undefined>>();
  const queued = new Map<string, Promise<SessionState | undefined>>();
  let totalBytes = 0;

  const apply = (state: SessionState, batch: StoredBatch) => state.apply(batch);

  // Evicts the least recently used; `keep` (the state in use) stays even when
  // it alone is over the budget.
  const evictFor = (keep: SessionState) => {
    for (const [id, s] of states) {
      if (totalBytes <= maxBytes) break;
      if (s === keep) continue;
      states.delete(id);
      totalBytes -= s.memoryBytes;
    }
  };

  const put = (state: SessionState) => {
    const old = states.get(state.sessionId);
    if (old) totalBytes -= old.memoryBytes;
    states.delete(state.sessionId);
    states.set(state.sessionId, state);
    totalBytes += state.memoryBytes;
    // Counted while cached: growth from appends and from decoding on read alike.
    state.onMemoryChange = (delta) => {
      if (states.get(state.sessionId) !== state) return;
      totalBytes += delta;
      if (totalBytes > maxBytes) evictFor(state);
    };
    evictFor(state);
  };

  const coldLoad = async (sessionId: string): Promise<SessionState | undefined> => {
    const subject = subjectOf(sessionId);
    const last = await reader.last(subject);
    if (!last) return undefined;
    const state = new SessionState(sessionId);
    await reader.scan(subject, 1, (batch) => {
      state.apply(batch);
      return batch.streamSeq < last.streamSeq;
    });
    return state;
  };

  // Brings a cached state up to the subject's last batch. Usually it already is
  // (one direct get), or is one batch behind (apply it, no scan).
  const refresh = async (state: SessionState): Promise<SessionState | undefined> => {
    const subject = subjectOf(state.sessionId);
    const last = await reader.last(subject);
    if (!last) return undefined;
    if (last.streamSeq === state.lastStreamSeq) return state;
    if (last.streamSeq < state.lastStreamSeq) return coldLoad(state.sessionId);
    if (firstSeqOf(last) === state.lastSeq + 1) {
      // Only when it is the one batch since the copy: a log deleted and created
      // again (by any tenant) can also continue the copy's numbering, but takes
      // two messages at least. Else the scan below tells a continuation from a
      // new log.
      const adjacent = last.streamSeq === state.lastStreamSeq + 1;
      if (adjacent || (await reader.firstFrom(subject, state.lastStreamSeq + 1))?.streamSeq === last.streamSeq) {
        apply(state, last);
        return state;
      }
    }
    let restarted = false;
    await reader.scan(subject, state.lastStreamSeq + 1, (batch) => {
      // A log that restarts at seq 1 was deleted and created again.
      if (firstSeqOf(batch) !== state.lastSeq + 1) {
        restarted = true;
        return false;
      }
      apply(state, batch);
      return batch.streamSeq < last.streamSeq;
    });
    return restarted ? coldLoad(state.sessionId) : state;
  };

  const start = (sessionId: string): Promise<SessionState | undefined> => {
    const cached = states.get(sessionId);
    const promise = (cached ? refresh(cached) : coldLoad(sessionId))
      .then((state) => {
        // put() also marks a state as recently used.
        if (state) put(state);
        else drop(sessionId);
        return state;
      })
      .finally(() => {
        if (running.get(sessionId) === promise) running.delete(sessionId);
      });
    running.set(sessionId, promise);
    return promise;
  };

  const drop = (sessionId: string) => {
    const state = states.get(sessionId);
    if (!state) return;
    states.delete(sessionId);
    totalBytes -= state.memoryBytes;
  };

  return {
    load(sessionId) {
      // A load must reflect the log as of the call, so a caller never joins a
      // load that started before it; it joins the one queued behind it instead.
      const waiting = queued.get(sessionId);
      if (waiting) return waiting;
      const current = running.get(sessionId);
      if (!current) return start(sessionId);
      const next = current
        .catch(() => undefined)
        .then(() => {
          queued.delete(sessionId);
          return start(sessionId);
        });
      queued.set(sessionId, next);
      return next;
    },
    peek: (sessionId) => states.get(sessionId),
    applyWritten: apply,
    adoptCreated(sessionId, batch) {
      const state = new SessionState(sessionId);
      state.apply(batch);
      put(state);
      return state;
    },
    drop,
  };
}
