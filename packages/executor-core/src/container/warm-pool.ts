import type { DockerFailure } from "../errors.js";
import type { ContainerProfile } from "./container-spec.js";
import type { SandboxContainer } from "./sandbox-container.js";

export interface WarmPoolOptions {
  /** Creates, attaches and starts one container (startSandboxContainer, bound). */
  start(profile: ContainerProfile): Promise<SandboxContainer>;
  /** Hands a container that will never run to the reaper. */
  discard(id: string): void;
  /** Containers being started at once across all profiles. */
  parallelStarts?: number;
  /** How long a session's warm container waits for the session's next call. */
  sessionIdleMs?: number;
  /** Most sessions with a warm container at once (least recently used are dropped). */
  sessionMax?: number;
  onStartFailure?(profile: ContainerProfile, failure: DockerFailure, attempt: number): void;
  onRecovered?(profile: ContainerProfile): void;
}

export interface PoolStats {
  readonly idle: number;
  readonly starting: number;
  readonly profiles: number;
  /** Calls served by a pre-started container / calls that found none. */
  readonly hits: number;
  readonly misses: number;
}

/**
 * Pre-started single-use containers, per container profile, so a call never
 * waits for create/start while one is ready. A container is handed out once and
 * never comes back; the pool starts a replacement in the background.
 */
export interface WarmPool {
  /** Keeps `size` containers ready for a profile (tools without a workspace). */
  keep(profile: ContainerProfile, size: number): void;
  /** A session just used this profile: keep one ready for its next call for a while. */
  touch(profile: ContainerProfile): void;
  /** A ready container for the profile, or undefined (the caller starts one itself). */
  take(profile: ContainerProfile): SandboxContainer | undefined;
  /** Forgets a session: its ready containers are discarded (e.g. before its volume goes). */
  dropSession(sessionId: string): void;
  /** Resolves when every profile has its containers ready (or is backing off after failures). */
  ready(): Promise<void>;
  stats(): PoolStats;
  /** Stops refilling and discards every ready container, including ones still starting. */
  close(): Promise<void>;
}

interface Entry {
  profile: ContainerProfile;
  target: number;
  idle: SandboxContainer[];
  starting: number;
  failures: number;
  retryAt: number;
  lastUsed: number;
  session: boolean;
}

export function createWarmPool(options: WarmPoolOptions): WarmPool {
  const parallel = options.parallelStarts ?? 2;
  const sessionIdleMs = options.sessionIdleMs ?? 60_000;
  const sessionMax = options.sessionMax ?? 16;
  const entries = new Map<string, Entry>();
  const startsInFlight = new Set<Promise<void>>();
  let startingTotal = 0;
  let closed = false;
  let hits = 0;
  let misses = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let readyWaiters: Array<() => void> = [];

  const expiryTimer = setInterval(expireSessions, Math.max(250, Math.min(sessionIdleMs / 2, 5_000)));
  expiryTimer.unref();

  function entryFor(profile: ContainerProfile, session: boolean): Entry {
    let entry = entries.get(profile.key);
    if (!entry) {
      entry = { profile, target: 0, idle: [], starting: 0, failures: 0, retryAt: 0, lastUsed: Date.now(), session };
      entries.set(profile.key, entry);
    }
    return entry;
  }

  function discardEntry(entry: Entry) {
    entries.delete(entry.profile.key);
    entry.target = 0;
    for (const c of entry.idle.splice(0)) options.discard(c.id);
  }

  function expireSessions() {
    const now = Date.now();
    for (const entry of entries.values()) {
      if (entry.session && now - entry.lastUsed > sessionIdleMs) discardEntry(entry);
    }
    notifyReady();
  }

  function isReady(): boolean {
    const now = Date.now();
    for (const e of entries.values()) {
      if (e.idle.length < e.target && e.retryAt <= now) return false;
    }
    return true;
  }

  function notifyReady() {
    if (readyWaiters.length === 0 || !isReady()) return;
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function pump() {
    if (closed) return;
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    for (const entry of entries.values()) {
      if (entry.retryAt > now) {
        nextRetry = Math.min(nextRetry, entry.retryAt);
        continue;
      }
      while (startingTotal < parallel && entry.idle.length + entry.starting < entry.target) startOne(entry);
    }
    if (nextRetry !== Number.POSITIVE_INFINITY && !retryTimer) {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        pump();
      }, nextRetry - now);
      retryTimer.unref();
    }
    notifyReady();
  }

  function startOne(entry: Entry) {
    entry.starting++;
    startingTotal++;
    const p = options.start(entry.profile).then(
      (container) => {
        if (entry.failures > 0) options.onRecovered?.(entry.profile);
        entry.failures = 0;
        entry.retryAt = 0;
        if (closed || entries.get(entry.profile.key) !== entry || entry.idle.length >= entry.target) {
          options.discard(container.id);
          return;
        }
        entry.idle.push(container);
        container.onDeath(() => {
          const at = entry.idle.indexOf(container);
          if (at < 0) return;
          entry.idle.splice(at, 1);
          options.discard(container.id);
          pump();
        });
      },
      (err: DockerFailure) => {
        entry.failures++;
        entry.retryAt = Date.now() + Math.min(250 * 2 ** (entry.failures - 1), 10_000);
        options.onStartFailure?.(entry.profile, err, entry.failures);
      },
    );
    const tracked = p.finally(() => {
      entry.starting--;
      startingTotal--;
      startsInFlight.delete(tracked);
      pump();
    });
    startsInFlight.add(tracked);
  }

  return {
    keep(profile, size) {
      const entry = entryFor(profile, false);
      entry.target = size;
      pump();
    },
    touch(profile) {
      if (closed) return;
      const entry = entryFor(profile, true);
      entry.lastUsed = Date.now();
      entry.target = 1;
      const sessions = [...entries.values()].filter((e) => e.session).sort((a, b) => a.lastUsed - b.lastUsed);
      for (const old of sessions.slice(0, Math.max(0, sessions.length - sessionMax))) discardEntry(old);
      pump();
    },
    take(profile) {
      const entry = entries.get(profile.key);
      let container: SandboxContainer | undefined;
      while (entry && !container && entry.idle.length > 0) {
        const candidate = entry.idle.shift() as SandboxContainer;
        if (candidate.alive) container = candidate;
        else options.discard(candidate.id);
      }
      if (entry) entry.lastUsed = Date.now();
      if (container) hits++;
      else misses++;
      pump();
      return container;
    },
    dropSession(sessionId) {
      for (const entry of [...entries.values()]) {
        if (entry.profile.sessionId === sessionId) discardEntry(entry);
      }
    },
    ready() {
      if (isReady()) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    stats() {
      let idle = 0;
      for (const e of entries.values()) idle += e.idle.length;
      return { idle, starting: startingTotal, profiles: entries.size, hits, misses };
    },
    async close() {
      closed = true;
      clearInterval(expiryTimer);
      clearTimeout(retryTimer);
      for (const entry of [...entries.values()]) discardEntry(entry);
      await Promise.all([...startsInFlight]);
      const waiters = readyWaiters;
      readyWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };
}
