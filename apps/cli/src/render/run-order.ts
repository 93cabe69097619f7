import type { Event, TextDelta } from "@reins/proto";

/** One item of a run: a log event or a piece of live text. */
export type RunItem = { case: "event"; value: Event } | { case: "delta"; value: TextDelta };

export interface RunOrder {
  push(item: RunItem): void;
  /** The stream ended: deltas still held are dropped, or emitted when `keepLate`. */
  end(): void;
}

/**
 * Puts a run's two streams back in conversation order. Live text comes over
 * core NATS and usually overtakes the log events it follows (the user message,
 * the previous turn's tool results), so text of model turn T is held until the
 * view has shown T-1 agent messages and the input of turn T (a user message,
 * or every tool result the previous message asked for). Text of a turn whose
 * agent.message was already shown is late: the message carried it, so a
 * terminal view drops it (`keepLate` passes it on, for NDJSON).
 */
export function createRunOrder(emit: (item: RunItem) => void, options: { keepLate: boolean }): RunOrder {
  let messages = 0;
  let inputSeen = false;
  const pending = new Set<string>();
  const held: RunItem[] = [];

  const ready = (turn: number) => turn === messages + 1 && inputSeen && pending.size === 0;
  const flush = () => {
    while (held.length > 0) {
      const next = held[0] as { case: "delta"; value: TextDelta };
      if (next.value.turn <= messages) {
        held.shift();
        if (options.keepLate) emit(next);
        continue;
      }
      if (!ready(next.value.turn)) return;
      held.shift();
      emit(next);
    }
  };

  return {
    push(item) {
      if (item.case === "delta") {
        if (item.value.turn <= messages) {
          if (options.keepLate) emit(item);
        } else if (held.length === 0 && ready(item.value.turn)) {
          emit(item);
        } else {
          held.push(item);
        }
        return;
      }
      const p = item.value.payload;
      if (p.case === "agentMessage") {
        // Text of this turn still held never got its moment: the message has it.
        messages++;
        flush();
        inputSeen = false;
        pending.clear();
        for (const block of p.value.content) {
          if (block.block.case === "toolUse") pending.add(block.block.value.id);
        }
      } else if (p.case === "userMessage") {
        inputSeen = true;
      } else if (p.case === "agentToolResult") {
        pending.delete(p.value.toolUseId);
        if (pending.size === 0) inputSeen = true;
      }
      emit(item);
      flush();
    },
    end() {
      if (options.keepLate) for (const item of held) emit(item);
      held.length = 0;
    },
  };
}
