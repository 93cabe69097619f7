import type Docker from "dockerode";
import { toDockerFailure } from "../errors.js";

export interface ReaperLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * Removes used containers off the call's critical path, and keeps trying while
 * Docker is away, so every container the executor made is eventually gone even
 * if the engine restarts in between.
 */
export interface Reaper {
  /** Force-removes the container (and its anonymous volumes) in the background. */
  remove(id: string): void;
  /** Removes every container carrying `label` ("key=value"); returns how many. */
  sweep(label: string): Promise<number>;
  /**
   * Removes containers carrying `label` that were created at least `minAgeMs` ago and never
   * started; returns how many. Nothing the executor uses stays in that state for long (a
   * container is started right after it is created), so such a container was lost track of:
   * say, a create whose answer never arrived.
   */
  sweepNeverStarted(label: string, minAgeMs: number): Promise<number>;
  /** Containers whose removal is pending. */
  readonly pending: number;
  /** Resolves when every pending removal is done, or after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<void>;
}

export function createReaper(docker: Docker, log: ReaperLog, retryMs = { first: 200, max: 5_000 }): Reaper {
  const inFlight = new Map<string, Promise<void>>();
  let idle: Array<() => void> = [];

  async function removeWithRetry(id: string): Promise<void> {
    let delay = retryMs.first;
    for (let attempt = 1; ; attempt++) {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
        return;
      } catch (err) {
        const failure = toDockerFailure(err, "removing a used container");
        if (failure.kind === "not-found") return;
        // Docker is already removing it (AutoRemove): done once it is really gone.
        if (failure.kind === "conflict" && /in progress/i.test(failure.message)) {
          await untilGone(id);
          return;
        }
        if (attempt === 1 || attempt % 10 === 0)
          log.warn({ id, attempt, err: failure.message }, "container removal failed; retrying");
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, retryMs.max);
      }
    }
  }

  async function untilGone(id: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      try {
        await docker.getContainer(id).inspect();
      } catch {
        return;
      }
      // Not unref'd: a daemon shutting down awaits this, and must not exit while the engine
      // is still removing the container (the wait is bounded anyway).
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function remove(id: string): void {
    if (inFlight.has(id)) return;
    const done = removeWithRetry(id).finally(() => {
      inFlight.delete(id);
      if (inFlight.size === 0) {
        const waiting = idle;
        idle = [];
        for (const resolve of waiting) resolve();
      }
    });
    inFlight.set(id, done);
  }

  return {
    remove,
    async sweep(label) {
      const list = await docker.listContainers({ all: true, filters: { label: [label] } });
      for (const c of list) remove(c.Id);
      if (list.length > 0) log.debug({ count: list.length, label }, "removing containers carrying the label");
      await Promise.all(list.map((c) => inFlight.get(c.Id)));
      return list.length;
    },
    async sweepNeverStarted(label, minAgeMs) {
      const list = await docker.listContainers({ all: true, filters: { label: [label], status: ["created"] } });
      // Docker reports creation time in whole seconds.
      const stale = list.filter((c) => Date.now() - c.Created * 1000 >= minAgeMs);
      for (const c of stale) remove(c.Id);
      if (stale.length > 0) log.warn({ count: stale.length, label }, "removing containers created but never started");
      return stale.length;
    },
    get pending() {
      return inFlight.size;
    },
    async settled(timeoutMs = 30_000) {
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => idle.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
