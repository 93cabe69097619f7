import { Code, ConnectError } from "@connectrpc/connect";

/**
 * At most `maxConcurrent` calls run at once; up to `maxQueued` more wait in
 * arrival order; beyond that a call is refused with RESOURCE_EXHAUSTED so the
 * caller can back off or try another sandbox host.
 */
export interface Limiter {
  /** Waits for a slot; the returned function frees it. Rejects if `signal` aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  readonly running: number;
  readonly queued: number;
}

export function createLimiter(maxConcurrent: number, maxQueued: number): Limiter {
  let running = 0;
  const queue: Array<{ grant: () => void }> = [];

  const release = () => {
    const next = queue.shift();
    if (next) next.grant();
    else running--;
  };
  const once = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };

  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (running < maxConcurrent) {
        running++;
        return Promise.resolve(once());
      }
      if (queue.length >= maxQueued) {
        return Promise.reject(
          new ConnectError(
            `executor busy: ${maxConcurrent} calls running and ${maxQueued} queued; retry later or use another executor`,
            Code.ResourceExhausted,
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          grant: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve(once());
          },
        };
        const onAbort = () => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          reject(signal?.reason);
        };
        queue.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    get running() {
      return running;
    },
    get queued() {
      return queue.length;
    },
  };
}
