import { ConnectError } from "@connectrpc/connect";
import {
  type AgentConfig,
  type Event,
  EventType,
  EventTypeSchema,
  eventTypeName,
  RunState,
  RunStateSchema,
  StopReasonSchema,
} from "@reins/proto";
import { eventIdProblem, validateSessionId } from "@reins/service-kit";
import { InvalidRequestError } from "./errors.js";

/** Most events one AppendEvents may carry. */
export const maxBatchEvents = 100;
/** Most events one GetEvents page may return. */
export const maxPageEvents = 1_000;
export const maxTitleLength = 200;
export { eventIdPattern } from "@reins/service-kit";

export function checkSessionId(id: string): string {
  try {
    return validateSessionId(id);
  } catch (err) {
    throw new InvalidRequestError(err instanceof ConnectError ? err.rawMessage : String(err));
  }
}

export function checkEventId(id: string, field: string): void {
  if (id === "") throw new InvalidRequestError(`${field} is required (a unique id such as a UUIDv7)`);
  const problem = eventIdProblem(id, field);
  if (problem) throw new InvalidRequestError(problem);
}

const traceIdPattern = /^[0-9a-f]{32}$/;

/** An event's trace_id: empty (not traced) or a W3C trace id, 32 lowercase hex digits, not all zeros. */
export function checkTraceId(traceId: string, field: string): void {
  if (traceId === "") return;
  if (!traceIdPattern.test(traceId) || /^0+$/.test(traceId)) {
    const shown = traceId.length > 40 ? `${traceId.slice(0, 40)}... (${traceId.length} characters)` : traceId;
    throw new InvalidRequestError(
      `${field} "${shown}" is not a W3C trace id: use 32 lowercase hex digits, not all zeros, or leave it empty`,
    );
  }
}

/**
 * Checks a batch for AppendEvents (or CreateSession's initial events, with
 * `field` "initial_events"); every message names the offending event.
 */
export function checkAppendBatch(events: readonly Event[], field = "events"): void {
  if (events.length === 0) throw new InvalidRequestError(`${field} is empty: append at least one event`);
  if (events.length > maxBatchEvents) {
    throw new InvalidRequestError(
      `batch of ${events.length} events is over the limit of ${maxBatchEvents}: split it into several appends`,
    );
  }
  const seen = new Set<string>();
  const intents = new Map<string, number>();
  events.forEach((event, i) => {
    checkEventId(event.id, `${field}[${i}].id`);
    if (seen.has(event.id)) throw new InvalidRequestError(`${field}[${i}].id "${event.id}" appears twice in the batch`);
    seen.add(event.id);
    checkTraceId(event.traceId, `${field}[${i}].trace_id`);
    if (event.payload.case === undefined) {
      throw new InvalidRequestError(`${field}[${i}] (id "${event.id}") has no payload: set exactly one event kind`);
    }
    if (event.payload.case === "sessionCreated") {
      throw new InvalidRequestError(
        `${field}[${i}] (id "${event.id}") is a session.created event: only CreateSession writes it`,
      );
    }
    checkPayload(event, `${field}[${i}] (id "${event.id}")`);
    if (event.payload.case === "agentToolUseStarted") {
      const toolUseId = event.payload.value.toolUseId;
      const first = intents.get(toolUseId);
      if (first !== undefined) {
        throw new InvalidRequestError(
          `${field}[${i}] (id "${event.id}") is a second agent.tool_use_started for tool_use "${toolUseId}" (the first is ${field}[${first}]): each tool call is started once`,
        );
      }
      intents.set(toolUseId, i);
    }
  });
}

const runStates = new Set(RunStateSchema.values.map((v) => v.number));
const runStateRange = `1-${Math.max(...runStates)}`;
const stopReasons = new Set(StopReasonSchema.values.map((v) => v.number));

// The log is read back by harnesses that trust it: values a reader cannot
// interpret (an enum number no version defines, tool input that is not a JSON
// object, which the Messages API would reject forever) are refused at the door.
function checkPayload(event: Event, where: string): void {
  const payload = event.payload;
  switch (payload.case) {
    case "sessionStatus": {
      const { state, stopReason } = payload.value;
      if (state === RunState.UNSPECIFIED || !runStates.has(state)) {
        throw new InvalidRequestError(`${where}: session_status.state ${state} is not a run state (${runStateRange})`);
      }
      if (!stopReasons.has(stopReason)) {
        throw new InvalidRequestError(`${where}: session_status.stop_reason ${stopReason} is not a stop reason`);
      }
      break;
    }
    case "agentMessage": {
      if (!stopReasons.has(payload.value.stopReason)) {
        throw new InvalidRequestError(
          `${where}: agent_message.stop_reason ${payload.value.stopReason} is not a stop reason`,
        );
      }
      // The Messages API refuses a conversation with two tool_use blocks of one id, forever.
      const toolUses = new Map<string, number>();
      payload.value.content.forEach((block, k) => {
        if (block.block.case !== "toolUse") return;
        const { id, inputJson } = block.block.value;
        const first = toolUses.get(id);
        if (first !== undefined) {
          throw new InvalidRequestError(
            `${where}: agent_message.content[${k}].tool_use.id "${id}" is also the id of content[${first}]: tool_use ids must be unique`,
          );
        }
        toolUses.set(id, k);
        checkJsonObject(inputJson, `${where}: agent_message.content[${k}].tool_use.input_json`);
      });
      break;
    }
    case "agentToolUseStarted":
      checkJsonObject(payload.value.inputJson, `${where}: agent_tool_use_started.input_json`);
      break;
    default:
      break;
  }
}

function checkJsonObject(json: string, field: string): void {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new InvalidRequestError(`${field} is not JSON (${(err as Error).message}): tool input must be a JSON object`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(
      `${field} is ${Array.isArray(value) ? "an array" : String(value === null ? "null" : typeof value)}: tool input must be a JSON object`,
    );
  }
}

/**
 * An expected_last_seq as a number for comparisons. A value beyond 2^53 cannot
 * be any log's last seq; it becomes Infinity, which never matches (the caller
 * quotes the original in its messages).
 */
export function checkExpectedLastSeq(value: bigint | number): number {
  if (value < 1) {
    throw new InvalidRequestError(
      "expected_last_seq must be at least 1: every session starts with its session.created event at seq 1",
    );
  }
  return value > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : Number(value);
}

/** A run-state filter: UNSPECIFIED (all) or a defined state. */
export function checkStateFilter(state: number): void {
  if (!runStates.has(state))
    throw new InvalidRequestError(`state ${state} is not a run state (0 = all, ${runStateRange})`);
}

/** Resolves a page limit: 0 means the maximum. */
export function checkLimit(limit: number): number {
  if (limit > maxPageEvents) throw new InvalidRequestError(`limit ${limit} is over the maximum of ${maxPageEvents}`);
  return limit === 0 ? maxPageEvents : limit;
}

/** A type filter as a set; empty means all. */
export function checkTypes(types: readonly EventType[], field = "types"): ReadonlySet<EventType> {
  types.forEach((type, i) => {
    if (type === EventType.UNSPECIFIED || eventTypeName(type) === undefined) {
      throw new InvalidRequestError(`${field}[${i}] = ${type} is not an event type`);
    }
  });
  return new Set(types);
}

/** A single event type, e.g. GetLatestEvent's: a defined one, not UNSPECIFIED. */
export function checkEventType(type: EventType, field = "type"): EventType {
  if (type === EventType.UNSPECIFIED || eventTypeName(type) === undefined) {
    const known = EventTypeSchema.values
      .filter((v) => v.number !== EventType.UNSPECIFIED)
      .map((v) => `${v.number} (${eventTypeName(v.number)})`);
    throw new InvalidRequestError(`${field} = ${type} is not an event type; one of ${known.join(", ")}`);
  }
  return type;
}

/**
 * Refuses an agent configuration the harness could not act on. Only the parts
 * a number can make meaningless are checked here; the harness resolves defaults.
 */
export function checkAgentConfig(config: AgentConfig): void {
  const threshold = config.contextPolicy?.threshold ?? 0;
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new InvalidRequestError(
      `config.context_policy.threshold ${threshold} is not a fraction of the context window: use a value in (0, 1], or 0 for the default (0.8)`,
    );
  }
}

export function checkTitle(title: string): void {
  if (title.length > maxTitleLength) {
    throw new InvalidRequestError(`title is ${title.length} characters, over the limit of ${maxTitleLength}`);
  }
}
