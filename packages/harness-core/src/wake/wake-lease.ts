import { OwnershipLostError } from "../errors.js";
import type { KeptDelivery, WakeKeeper } from "./wake-keeper.js";

/**
 * A replica's hold on one session: a work-queue delivery that the server gives
 * to another replica once `ackWaitMs` pass without an in-progress ack. The
 * replica can only know when it last renewed, so it counts the lease as lost a
 * little before the server would redeliver, and never gets it back.
 */
export interface WakeLease {
  readonly sessionId: string;
  /** Call right after sending an in-progress ack; ignored once lost. */
  renewed(): void;
  /** True once the lease ran out (or a newer delivery of the session replaced it). */
  lost(): boolean;
  release(): void;
}

/** The leases this replica holds, by session: the newest delivery of a session wins. */
export interface WakeLeaseTable {
  /**
   * Holds the session from now. With `progress` (sends one in-progress ack for
   * the delivery), the table keeps the lease itself: one ack at once, then one
   * every `renewEveryMs` from a single timer, and one before each tool call.
   * With `ackSubject` and a keeper, the keeper's worker thread renews too,
   * whatever the event loop's lag.
   */
  hold(sessionId: string, progress?: () => void, ackSubject?: string): WakeLease;
  /**
   * For the agent loop's `beforeToolCall`: throws OwnershipLostError when this replica
   * holds the session under a lease that may have passed to another replica,
   * and otherwise renews it, so that the call starts with the whole ack wait
   * ahead. Sessions run without a lease (direct mode) are not checked.
   */
  check(sessionId: string, toolUseId: string): void;
  /** The longest the renewal timer has fired late lately (event-loop lag), in ms. */
  lagMs(): number;
  /** How often kept leases are renewed. */
  readonly renewEveryMs: number;
  /** Sessions held under a lease now. */
  readonly size: number;
}

interface Held extends WakeLease {
  readonly progress: (() => void) | undefined;
  renew(): void;
}

export function createWakeLeaseTable(
  ackWaitMs: number,
  now: () => number = Date.now,
  keeper?: WakeKeeper,
): WakeLeaseTable {
  const held = new Map<string, Held>();
  // The server's clock starts when it sends the message; ours a little later.
  const margin = Math.min(250, ackWaitMs / 5);
  // Renewing often leaves most of the ack wait as room for event-loop lag: a
  // lease is lost only if the loop stalls for about ackWait - margin - renewEveryMs.
  const renewEveryMs = Math.max(50, Math.floor(ackWaitMs / 8));
  let timer: NodeJS.Timeout | undefined;
  let lastBeat = 0;
  let lag = 0;

  const beat = () => {
    const t = now();
    // Lag decays, so one stall long ago does not colour every later report.
    lag = Math.max(lag * 0.9, t - lastBeat - renewEveryMs, 0);
    lastBeat = t;
    keeper?.alive(t);
    for (const lease of held.values()) lease.renew();
  };
  const keep = () => {
    if (timer) return;
    lastBeat = now();
    timer = setInterval(beat, renewEveryMs);
    timer.unref();
  };
  const idle = () => {
    for (const lease of held.values()) if (lease.progress) return;
    clearInterval(timer);
    timer = undefined;
  };

  return {
    renewEveryMs,
    lagMs: () => Math.round(lag),
    hold(sessionId, progress, ackSubject) {
      let renewedAt = now();
      let gone = false;
      keeper?.alive(renewedAt);
      const kept: KeptDelivery | undefined = ackSubject ? keeper?.keep(ackSubject, renewedAt) : undefined;
      const lease: Held = {
        sessionId,
        progress,
        renewed() {
          if (!lease.lost()) renewedAt = now();
        },
        renew() {
          if (!lease.progress || lease.lost()) return;
          lease.progress();
          renewedAt = now();
        },
        lost() {
          // The last ack that went out, from this loop or from the keeper's thread.
          const last = Math.max(renewedAt, kept?.lastRenewal() ?? -1);
          if (!gone && (held.get(sessionId) !== lease || now() - last >= ackWaitMs - margin)) gone = true;
          return gone;
        },
        release() {
          gone = true;
          kept?.release();
          if (held.get(sessionId) === lease) held.delete(sessionId);
          idle();
        },
      };
      held.set(sessionId, lease);
      if (progress) {
        // The server counts from when it sent the message: restart its clock now.
        lease.renew();
        keep();
      }
      return lease;
    },
    get size() {
      return held.size;
    },
    check(sessionId, toolUseId) {
      const lease = held.get(sessionId);
      if (lease?.lost()) {
        throw new OwnershipLostError(
          `session ${sessionId}: the work-queue lease ran out before tool call ${toolUseId}; another replica may own the session`,
        );
      }
      // A call may run for long: give it the whole ack wait before the next timer beat.
      lease?.renew();
    },
  };
}
