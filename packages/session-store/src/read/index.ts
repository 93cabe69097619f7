// Reads: pages of events, the latest event of a type, and replay-then-follow
// streams, all checked against the subject's last message so another
// replica's appends are seen.
export type { LatestEventResult } from "./latest-event.js";
export { getLatestEvent } from "./latest-event.js";
export type { EventsPage, GetEventsOptions } from "./read-events.js";
export { getEvents } from "./read-events.js";
export type { StreamEventsOptions } from "./stream-events.js";
export { createStreamRegistry, streamEvents } from "./stream-events.js";
