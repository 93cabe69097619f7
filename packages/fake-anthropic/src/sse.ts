import type { FakeStopReason, FakeTurn, FakeUsage } from "./types.js";

/** One server-sent event: its `event:` name and its `data:` JSON. */
export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

export interface EncodeOptions {
  readonly model: string;
  readonly messageId: string;
  readonly usage: FakeUsage;
  /** Id for a tool_use block without one, by content index. */
  readonly toolUseId: (index: number) => string;
}

/**
 * The SSE events the Messages API streams for one answer, in its order:
 * message_start, ping, per block content_block_start / *_delta... /
 * content_block_stop, message_delta (stop reason, usage), message_stop. Text
 * arrives a few words at a time and tool input as JSON split at arbitrary
 * characters, as the real API does, so clients must reassemble both.
 */
export function encodeTurn(turn: FakeTurn, options: EncodeOptions): SseEvent[] {
  const events: SseEvent[] = [];
  const { usage } = options;
  events.push({
    event: "message_start",
    data: {
      type: "message_start",
      message: {
        id: options.messageId,
        type: "message",
        role: "assistant",
        model: options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: Math.min(1, usage.output_tokens) },
      },
    },
  });
  events.push({ event: "ping", data: { type: "ping" } });

  turn.content.forEach((block, index) => {
    const delta = (d: Record<string, unknown>) =>
      events.push({ event: "content_block_delta", data: { type: "content_block_delta", index, delta: d } });
    switch (block.type) {
      case "text":
        events.push(blockStart(index, { type: "text", text: "" }));
        for (const piece of splitWords(block.text)) delta({ type: "text_delta", text: piece });
        break;
      case "thinking":
        events.push(blockStart(index, { type: "thinking", thinking: "", signature: "" }));
        for (const piece of splitWords(block.thinking)) delta({ type: "thinking_delta", thinking: piece });
        delta({ type: "signature_delta", signature: block.signature ?? `sig_${options.messageId}_${index}` });
        break;
      case "tool_use": {
        const id = block.id ?? options.toolUseId(index);
        events.push(blockStart(index, { type: "tool_use", id, name: block.name, input: {} }));
        // The real API opens every tool input with an empty partial.
        delta({ type: "input_json_delta", partial_json: "" });
        for (const piece of splitJson(JSON.stringify(block.input))) {
          delta({ type: "input_json_delta", partial_json: piece });
        }
        break;
      }
    }
    events.push({ event: "content_block_stop", data: { type: "content_block_stop", index } });
  });

  events.push({
    event: "message_delta",
    data: {
      type: "message_delta",
      delta: { stop_reason: stopReasonOf(turn), stop_sequence: null },
      usage: { ...usage },
    },
  });
  events.push({ event: "message_stop", data: { type: "message_stop" } });
  return events;
}

export function formatSse({ event, data }: SseEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function stopReasonOf(turn: FakeTurn): FakeStopReason {
  return turn.stopReason ?? (turn.content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
}

function blockStart(index: number, block: Record<string, unknown>): SseEvent {
  return { event: "content_block_start", data: { type: "content_block_start", index, content_block: block } };
}

// Two words per delta, keeping the separating whitespace, so joining is exact.
function splitWords(text: string): string[] {
  const words = text.match(/\S+\s*|\s+/g) ?? [];
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += 2) pieces.push(words.slice(i, i + 2).join(""));
  return pieces.length > 0 ? pieces : [text];
}

// Three or more pieces cut mid-token, as real streams cut keys and strings.
function splitJson(json: string): string[] {
  const size = Math.max(1, Math.ceil(json.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += size) pieces.push(json.slice(i, i + size));
  return pieces;
}
