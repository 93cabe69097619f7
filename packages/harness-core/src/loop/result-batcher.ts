import type { EventPayload, SessionLog } from "../log/index.js";

/**
 * Group commit of the results of parallel calls: a result is written at most
 * `delayMs` after it finished, together with whatever else finished meanwhile,
 * and the last batch once every call finished and the caller released it
 * (`release`). Fast calls cost one append per turn; a slow sibling does not
 * hold a finished result back long; and the caller may send something more
 * urgent (the next model request) before the last append's work.
 */
export function createResultBatcher(log: SessionLog, calls: number, delayMs: number) {
  let running = calls;
  let pending: EventPayload[] = [];
  let batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let released = false;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const current = batch;
    const payloads = pending;
    batch = undefined;
    pending = [];
    if (!current) return;
    log.append(...payloads).then(() => current.resolve(), current.reject);
  };
  const settle = () => {
    running--;
    if (running === 0 && released) flush();
  };
  return {
    add(payload: EventPayload): Promise<void> {
      pending.push(payload);
      if (!batch) {
        let resolve = () => {};
        let reject: (err: unknown) => void = () => {};
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        batch = { promise, resolve, reject };
      }
      const mine = batch.promise;
      timer ??= setTimeout(flush, delayMs);
      settle();
      return mine;
    },
    /** A call that will write no result. */
    skip: settle,
    /** Lets the last batch go, now if every call has finished, else when the last one does. */
    release() {
      released = true;
      if (running <= 0) flush();
    },
  };
}
