import { FencedError } from "./session-log.js";

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
  hold(sessionId: string): WakeLease;
  /**
   * For the agent loop's `beforeToolCall`: throws FencedError when this replica
   * holds the session under a lease that may have passed to another replica.
   * Sessions run without a lease (direct mode) are not checked.
   */
  check(sessionId: string, toolUseId: string): void;
}

export function createWakeLeaseTable(ackWaitMs: number, now: () => number = Date.now): WakeLeaseTable {
  const held = new Map<string, WakeLease>();
  // The server's clock starts when it sends the message; ours a little later.
  const margin = Math.min(250, ackWaitMs / 5);

  return {
    hold(sessionId) {
      let renewedAt = now();
      let gone = false;
      const lease: WakeLease = {
        sessionId,
        renewed() {
          if (!lease.lost()) renewedAt = now();
        },
        lost() {
          if (!gone && (held.get(sessionId) !== lease || now() - renewedAt >= ackWaitMs - margin)) gone = true;
          return gone;
        },
        release() {
          gone = true;
          if (held.get(sessionId) === lease) held.delete(sessionId);
        },
      };
      held.set(sessionId, lease);
      return lease;
    },
    check(sessionId, toolUseId) {
      const lease = held.get(sessionId);
      if (lease?.lost()) {
        throw new FencedError(
          `session ${sessionId}: the work-queue lease ran out before tool call ${toolUseId}; another replica may own the session`,
        );
      }
    },
  };
}
