import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Sends the in-progress acks of held wakes from a worker thread with its own
 * NATS connection, so that a replica whose event loop lags (a starved CPU, a
 * long synchronous stretch, a GC pause) keeps its sessions instead of having
 * the server hand them to another replica while it still works them. It only
 * renews while the event loop says it is alive (`alive`, at most `guardMs`
 * ago): a loop stuck for longer lets its sessions go. A stopped process
 * (SIGSTOP, SIGKILL) stops the worker too.
 *
 * Renewal times are shared through memory, so the lease table reads, without
 * waiting on the lagging loop, when the last ack really went out.
 */
export interface WakeKeeper {
  /** Starts renewing the delivery whose ack subject is `subject`, last renewed at `at`; undefined when full. */
  keep(subject: string, at: number): KeptDelivery | undefined;
  /** The event loop is alive at `at` (Date.now()). */
  alive(at: number): void;
  /** Resolves once the worker is connected to NATS. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface KeptDelivery {
  /** When the worker last sent an in-progress ack (Date.now()), or -1 once it gave the delivery up. */
  lastRenewal(): number;
  release(): void;
}

export interface WakeKeeperOptions {
  readonly servers: readonly string[];
  readonly ackWaitMs: number;
  /** Renewal period. Default ackWaitMs / 8 (at least 50 ms). */
  readonly renewEveryMs?: number;
  /** Longest event-loop silence the worker covers. Default max(10 s, 2 x ackWaitMs). */
  readonly guardMs?: number;
  /** Deliveries kept at once. Default 4096. */
  readonly capacity?: number;
}

// Plain CommonJS run with `eval`: no file to resolve from dist or from source.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { connect } = require(workerData.natsPath);
const { servers, ackWaitMs, marginMs, renewEveryMs, guardMs } = workerData;
const times = new Float64Array(workerData.clock);
const held = new Map();
const wpi = new TextEncoder().encode("+WPI");
let nc;
connect({ servers, name: "reins-harness-wake-keeper", maxReconnectAttempts: -1, reconnectTimeWait: 250 }).then(
  (c) => { nc = c; parentPort.postMessage("connected"); },
  () => {},
);
parentPort.on("message", (m) => {
  if (m.op === "keep") held.set(m.slot, m.subject);
  else held.delete(m.slot);
});
setInterval(() => {
  const now = Date.now();
  if (!nc || nc.isClosed() || now - times[0] > guardMs) return;
  for (const [slot, subject] of held) {
    // Once a renewal came too late the server may have handed the wake on: never again.
    if (times[slot] < 0 || now - times[slot] >= ackWaitMs - marginMs) {
      times[slot] = -1;
      held.delete(slot);
      continue;
    }
    nc.publish(subject, wpi);
    times[slot] = now;
  }
}, renewEveryMs);
`;

export function createWakeKeeper(options: WakeKeeperOptions): WakeKeeper {
  const capacity = options.capacity ?? 4096;
  // Slot 0: the event loop's last sign of life; slots 1..capacity: renewal times.
  const clock = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * (capacity + 1));
  const times = new Float64Array(clock);
  times[0] = Date.now();
  // Slots are reused oldest-freed first, long after the worker saw them released.
  const free = Array.from({ length: capacity }, (_, i) => i + 1);
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      natsPath: createRequire(import.meta.url).resolve("nats"),
      servers: [...options.servers],
      ackWaitMs: options.ackWaitMs,
      marginMs: Math.min(250, options.ackWaitMs / 5),
      renewEveryMs: options.renewEveryMs ?? Math.max(50, Math.floor(options.ackWaitMs / 8)),
      guardMs: options.guardMs ?? Math.max(10_000, 2 * options.ackWaitMs),
      clock,
    },
  });
  worker.unref();
  // A worker that fails leaves the acks to the event loop's own timer.
  worker.on("error", () => undefined);
  const connected = new Promise<void>((resolve) => worker.once("message", () => resolve()));

  return {
    keep(subject, at) {
      const slot = free.shift();
      if (slot === undefined) return undefined;
      times[slot] = at;
      worker.postMessage({ op: "keep", slot, subject });
      let released = false;
      return {
        lastRenewal: () => times[slot] ?? -1,
        release() {
          if (released) return;
          released = true;
          // At once, not when the worker reads its messages: no ack may follow an ack or nak.
          times[slot] = -1;
          worker.postMessage({ op: "release", slot });
          free.push(slot);
        },
      };
    },
    alive(at) {
      times[0] = at;
    },
    ready: () => connected,
    async close() {
      await worker.terminate();
    },
  };
}
