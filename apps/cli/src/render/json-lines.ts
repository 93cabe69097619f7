import { type JsonObject, toJson } from "@bufbuild/protobuf";
import {
  type Event,
  EventSchema,
  eventNameOf,
  type Session,
  SessionSchema,
  type TextDelta,
  TextDeltaSchema,
} from "@reins/proto";

/**
 * NDJSON shapes for scripts: one object per line, each with a "type" field
 * (the event's wire name, "text.delta" or "session") next to the canonical
 * protobuf JSON of the message, so `jq 'select(.type=="agent.tool_result")'`
 * works without knowing the oneof layout.
 */
export function eventJson(event: Event): string {
  return JSON.stringify({ type: eventNameOf(event), ...(toJson(EventSchema, event) as JsonObject) });
}

export function deltaJson(delta: TextDelta): string {
  return JSON.stringify({ type: "text.delta", ...(toJson(TextDeltaSchema, delta) as JsonObject) });
}

export function sessionJson(session: Session): string {
  return JSON.stringify({ type: "session", ...(toJson(SessionSchema, session) as JsonObject) });
}
