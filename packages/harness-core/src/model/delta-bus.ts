import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type TextDelta, TextDeltaSchema } from "@reins/proto";
import type { NatsConnection } from "nats";

/**
 * Core NATS subject of a session's live text: fire-and-forget, never stored.
 * `<prefix>.deltas.<session_id>`, the prefix lower-cased like the events and
 * wake subjects' (REINS_STREAM_PREFIX), so two deployments sharing one NATS
 * do not see each other's text.
 */
export function deltaSubject(sessionId: string, prefix = "REINS"): string {
  return `${prefix.toLowerCase()}.deltas.${sessionId}`;
}

export interface NatsDeltaBusOptions {
  /** The deployment's stream prefix (REINS_STREAM_PREFIX). Default "REINS". */
  readonly prefix?: string;
}

/**
 * Live model text for viewers. Deltas are best effort by design: a viewer that
 * misses some still gets the whole text in the `agent.message` event.
 */
export interface DeltaBus {
  publish(delta: Omit<TextDelta, "$typeName" | "$unknown">): void;
  /** Calls `onDelta` for each delta of the session until the returned function is called. */
  subscribe(sessionId: string, onDelta: (delta: TextDelta) => void): Promise<() => void>;
}

export function createNatsDeltaBus(nc: NatsConnection, options: NatsDeltaBusOptions = {}): DeltaBus {
  const subject = (sessionId: string) => deltaSubject(sessionId, options.prefix);
  return {
    publish(delta) {
      if (nc.isClosed()) return;
      nc.publish(subject(delta.sessionId), toBinary(TextDeltaSchema, create(TextDeltaSchema, delta)));
    },
    async subscribe(sessionId, onDelta) {
      const sub = nc.subscribe(subject(sessionId), {
        callback: (err, msg) => {
          if (err) return;
          try {
            onDelta(fromBinary(TextDeltaSchema, msg.data));
          } catch {
            // A malformed delta is dropped: deltas are best effort.
          }
        },
      });
      // The subscription must be known to the server before the caller starts
      // the work that publishes, or the first deltas would be missed.
      await nc.flush();
      return () => sub.unsubscribe();
    },
  };
}

/** Deltas within one process, for tests and for a harness run without NATS. */
export function createLocalDeltaBus(): DeltaBus {
  const listeners = new Map<string, Set<(delta: TextDelta) => void>>();
  return {
    publish(delta) {
      const message = create(TextDeltaSchema, delta);
      for (const listener of listeners.get(delta.sessionId) ?? []) listener(message);
    },
    async subscribe(sessionId, onDelta) {
      const set = listeners.get(sessionId) ?? new Set();
      listeners.set(sessionId, set);
      set.add(onDelta);
      return () => set.delete(onDelta);
    },
  };
}
