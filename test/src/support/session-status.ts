import type { Event } from "@reins/proto";

/** The state and stop reason of a log's last `session.status`, or [] when it has none. */
export function lastStatus(events: readonly Event[]) {
  const status = events.findLast((e) => e.payload.case === "sessionStatus");
  return status?.payload.case === "sessionStatus" ? [status.payload.value.state, status.payload.value.stopReason] : [];
}
