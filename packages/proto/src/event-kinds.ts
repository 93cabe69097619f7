import type { Event } from "./gen/reins/session/v1/events_pb.js";
import { EventType } from "./gen/reins/session/v1/events_pb.js";

/** The payload case of an Event, e.g. "agentMessage". */
export type EventPayloadCase = NonNullable<Event["payload"]["case"]>;

interface EventKind {
  readonly type: EventType;
  /** Wire name users recognise from Claude Managed Agents, e.g. "agent.message". */
  readonly name: string;
}

// One table is the single source of truth for the three spellings of an event
// kind (enum, payload case, wire name), so filters, logs and the CLI agree.
const kinds: Record<EventPayloadCase, EventKind> = {
  sessionCreated: { type: EventType.SESSION_CREATED, name: "session.created" },
  userMessage: { type: EventType.USER_MESSAGE, name: "user.message" },
  userInterrupt: { type: EventType.USER_INTERRUPT, name: "user.interrupt" },
  agentMessage: { type: EventType.AGENT_MESSAGE, name: "agent.message" },
  agentToolUseStarted: { type: EventType.AGENT_TOOL_USE_STARTED, name: "agent.tool_use_started" },
  agentToolResult: { type: EventType.AGENT_TOOL_RESULT, name: "agent.tool_result" },
  sessionStatus: { type: EventType.SESSION_STATUS, name: "session.status" },
  spanModelRequest: { type: EventType.SPAN_MODEL_REQUEST, name: "span.model_request" },
  sessionError: { type: EventType.SESSION_ERROR, name: "session.error" },
  agentContextCompacted: { type: EventType.AGENT_CONTEXT_COMPACTED, name: "agent.context_compacted" },
  agentCustomToolUse: { type: EventType.AGENT_CUSTOM_TOOL_USE, name: "agent.custom_tool_use" },
  userToolConfirmation: { type: EventType.USER_TOOL_CONFIRMATION, name: "user.tool_confirmation" },
  userCustomToolResult: { type: EventType.USER_CUSTOM_TOOL_RESULT, name: "user.custom_tool_result" },
  sessionPlaced: { type: EventType.SESSION_PLACED, name: "session.placed" },
};

/** The EventType of an event, or UNSPECIFIED when it has no payload. */
export function eventTypeOf(event: Pick<Event, "payload">): EventType {
  const kind = event.payload.case;
  return kind === undefined ? EventType.UNSPECIFIED : kinds[kind].type;
}

/** The wire name of an event ("agent.message"), or "" when it has no payload. */
export function eventNameOf(event: Pick<Event, "payload">): string {
  const kind = event.payload.case;
  return kind === undefined ? "" : kinds[kind].name;
}

/** The wire name of an EventType, or undefined for UNSPECIFIED and unknown values. */
export function eventTypeName(type: EventType): string | undefined {
  return Object.values(kinds).find((k) => k.type === type)?.name;
}

/** Parses a wire name ("agent.message") into its EventType. */
export function parseEventTypeName(name: string): EventType | undefined {
  return Object.values(kinds).find((k) => k.name === name)?.type;
}
