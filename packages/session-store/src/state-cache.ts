import type { LogReader, StoredBatch } from "./log-reader.js";
import { SessionState } from "./session-state.js";

/**
 * Session states of the sessions this replica touched recently, least recently
 * used evicted first once they hold more than `maxEvents` events. Every method
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
  maxEvents: number;
}): StateCache {
  const { reader, subjectOf, maxEvents } = options;
  const states = new Map<string, SessionState>();
  const running = new Map<string, Promise<SessionState | undefined>>();
  const queued = new Map<string, Promise<SessionState | undefined>>();
  let totalEvents = 0;

  const apply = (state: SessionState, batch: StoredBatch) => {
    const before = state.eventCount;
    state.apply(batch.streamSeq, batch.events);
    if (states.get(state.sessionId) === state) totalEvents += state.eventCount - before;
  };

  const put = (state: SessionState) => {
    const old = states.get(state.sessionId);
    if (old) totalEvents -= old.eventCount;
    states.delete(state.sessionId);
    states.set(state.sessionId, state);
    totalEvents += state.eventCount;
    // Evict the least recently used, but never the state just put.
    for (const [id, s] of states) {
      if (totalEvents <= maxEvents || s === state) break;
      states.delete(id);
      totalEvents -= s.eventCount;
    }
  };

  const coldLoad = async (sessionId: string): Promise<SessionState | undefined> => {
    const subject = subjectOf(sessionId);
    const last = await reader.last(subject);
    if (!last) return undefined;
    const state = new SessionState(sessionId);
    await reader.scan(subject, 1, (batch) => {
      state.apply(batch.streamSeq, batch.events);
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
    if (Number(last.events[0]?.seq) === state.lastSeq + 1) {
      apply(state, last);
      return state;
    }
    let restarted = false;
    await reader.scan(subject, state.lastStreamSeq + 1, (batch) => {
      // A log that restarts at seq 1 was deleted and created again.
      if (Number(batch.events[0]?.seq) !== state.lastSeq + 1) {
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
    totalEvents -= state.eventCount;
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
      state.apply(batch.streamSeq, batch.events);
      put(state);
      return state;
    },
    drop,
  };
}
