import type { Event, TextDelta } from "@reins/proto";
import { RunState, StopReason } from "@reins/proto";

/** Live text of one content block of the answer being streamed. */
export interface LiveBlock {
  readonly index: number;
  readonly thinking: boolean;
  readonly text: string;
}

/** The model's answer as it streams, before its `agent.message` is in the log. */
export interface LiveText {
  readonly turn: number;
  readonly attempt: number;
  readonly blocks: readonly LiveBlock[];
  /** Pieces the harness dropped for this reader (it read too slowly): the text has holes. */
  readonly dropped: bigint;
}

/** What a session page shows: the log so far, in seq order, and the answer streaming now. */
export interface TimelineState {
  readonly events: readonly Event[];
  /** Highest seq in `events`: streams resume after it, and nothing at or below it is added twice. */
  readonly lastSeq: bigint;
  /** `agent.message` events seen: the number of the model turn last recorded. */
  readonly turns: number;
  readonly live: LiveText | undefined;
}

export const emptyTimeline: TimelineState = { events: [], lastSeq: 0n, turns: 0, live: undefined };

/**
 * Adds events from a replay or a live stream. An event at or below the last
 * seq is already shown (a reconnect replays from the last seq seen, a retry may
 * overlap): it is dropped, so the timeline has no duplicate.
 */
export function addEvents(state: TimelineState, events: readonly Event[]): TimelineState {
  let { lastSeq, turns, live } = state;
  const added: Event[] = [];
  for (const event of events) {
    if (event.seq <= lastSeq) continue;
    added.push(event);
    lastSeq = event.seq;
    const p = event.payload;
    if (p.case === "agentMessage") {
      turns++;
      // The recorded answer replaces its live text.
      if (live && live.turn <= turns) live = undefined;
    } else if (endsTheTurn(event) && live && live.turn === turns + 1) {
      // The request streaming now failed or was stopped: its text will not become a message.
      live = undefined;
    }
  }
  if (added.length === 0) return state;
  return { events: [...state.events, ...added], lastSeq, turns, live };
}

function endsTheTurn(event: Event): boolean {
  const p = event.payload;
  switch (p.case) {
    case "sessionStatus":
      return p.value.state !== RunState.RUNNING;
    case "sessionError":
    case "userInterrupt":
      return true;
    case "spanModelRequest":
      return p.value.error !== "";
    default:
      return false;
  }
}

/**
 * Adds a live text piece. Pieces of a turn already in the log are late (deltas
 * and events travel separately) and dropped; a new attempt of the same turn
 * starts its text from scratch, as the harness does.
 */
export function addDelta(state: TimelineState, delta: TextDelta, dropped = 0n): TimelineState {
  if (delta.turn <= state.turns) return state;
  let live = state.live;
  if (!live || live.turn !== delta.turn || live.attempt !== delta.attempt) {
    if (live && (delta.turn < live.turn || (delta.turn === live.turn && delta.attempt < live.attempt))) return state;
    live = { turn: delta.turn, attempt: delta.attempt, blocks: [], dropped: 0n };
  }
  const blocks = [...live.blocks];
  const at = blocks.findIndex((b) => b.index === delta.index);
  const current = blocks[at];
  if (current) blocks[at] = { ...current, text: current.text + delta.text };
  else {
    blocks.push({ index: delta.index, thinking: delta.thinking, text: delta.text });
    blocks.sort((a, b) => a.index - b.index);
  }
  return { ...state, live: { ...live, blocks, dropped: live.dropped + dropped } };
}

/** A tool call the session waits on its client for. */
export interface PendingCall {
  readonly toolUseId: string;
  readonly name: string;
  readonly inputJson: string;
  /** `confirm`: an always_ask call to allow or deny; `custom`: a custom tool whose result the client sends. */
  readonly kind: "confirm" | "custom";
}

/**
 * The calls the session's last stop (`requires_action`) waits for, less those
 * answered since, in the order the status names them.
 */
export function pendingCalls(events: readonly Event[]): PendingCall[] {
  let at = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]?.payload.case === "sessionStatus") {
      at = i;
      break;
    }
  }
  const status = events[at]?.payload;
  if (status?.case !== "sessionStatus") return [];
  if (status.value.state !== RunState.IDLE || status.value.stopReason !== StopReason.REQUIRES_ACTION) return [];
  const answered = new Set<string>();
  for (const e of events.slice(at + 1)) {
    if (e.payload.case === "userToolConfirmation" || e.payload.case === "userCustomToolResult") {
      answered.add(e.payload.value.toolUseId);
    }
  }
  const calls = new Map<string, PendingCall>();
  for (const e of events) {
    const p = e.payload;
    if (p.case === "agentMessage") {
      for (const b of p.value.content) {
        if (b.block.case === "toolUse") {
          const { id, name, inputJson } = b.block.value;
          calls.set(id, { toolUseId: id, name, inputJson, kind: "confirm" });
        }
      }
    } else if (p.case === "agentCustomToolUse") {
      const { toolUseId, name, inputJson } = p.value;
      calls.set(toolUseId, { toolUseId, name, inputJson, kind: "custom" });
    }
  }
  return status.value.pendingToolUseIds
    .filter((id) => !answered.has(id))
    .map((id) => calls.get(id) ?? { toolUseId: id, name: "(unknown tool)", inputJson: "", kind: "confirm" });
}
