import type { SessionStore, StoreMetrics } from "@reins/session-store";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Sub-millisecond to a few seconds: a JetStream ack on a near server, and one through a slow cluster. */
const roundTripBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The session daemon's own metrics: appends (events, bytes, refusals by
 * reason), NATS round trips, and, once the store is up, its open streams and
 * whether NATS is connected. No session id is ever a label.
 */
export function createSessionMetrics(registry: Registry): StoreMetrics & { observeStore(store: SessionStore): void } {
  const events = new Counter({
    name: "reins_session_appended_events_total",
    help: "Events written to session logs.",
    registers: [registry],
  });
  const bytes = new Counter({
    name: "reins_session_appended_bytes_total",
    help: "Encoded bytes of the batches written to session logs.",
    registers: [registry],
  });
  const batches = new Counter({
    name: "reins_session_appends_total",
    help: "Append batches, by result: written, fenced (ABORTED: another writer moved the log), log_full or rate_limited (RESOURCE_EXHAUSTED by the session's limits).",
    labelNames: ["result"],
    registers: [registry],
  });
  const roundTrip = new Histogram({
    name: "reins_session_nats_round_trip_seconds",
    help: "JetStream publishes of append batches, from send to ack.",
    buckets: roundTripBuckets,
    registers: [registry],
  });
  // Zero before the store exists, so an alert on it fires for a daemon still waiting for NATS.
  let store: SessionStore | undefined;
  new Gauge({
    name: "reins_session_nats_connected",
    help: "1 while the daemon is connected to NATS and can serve, 0 otherwise.",
    registers: [registry],
    collect() {
      this.set(store?.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: "reins_session_open_streams",
    help: "Open StreamEvents and AppendEventsStream calls.",
    registers: [registry],
    collect() {
      this.set(store?.openStreams ?? 0);
    },
  });
  for (const result of ["written", "fenced", "log_full", "rate_limited"]) batches.inc({ result }, 0);
  return {
    appended(n, size) {
      batches.inc({ result: "written" });
      events.inc(n);
      bytes.inc(size);
    },
    refused: (reason) => batches.inc({ result: reason }),
    natsRoundTrip: (seconds) => roundTrip.observe(seconds),
    observeStore(s) {
      store = s;
    },
  };
}
