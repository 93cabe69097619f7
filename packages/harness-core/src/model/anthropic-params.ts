import type {
  ContentBlockParam,
  MessageParam,
  MessageStreamParams,
  TextBlockParam,
  Tool,
} from "@anthropic-ai/sdk/resources/messages/messages";
import type { ConversationBlock } from "./conversation.js";
import type { ModelRequest } from "./model.js";

const ephemeral = { type: "ephemeral" } as const;

/**
 * The Messages API request for a model request, with prompt-caching
 * breakpoints: one after the system prompt (caching tools and system), one on
 * the last block of the conversation (what the next turn will read back), and
 * one on the previous user turn's last block, so the prefix written by the
 * previous request is found even when a turn added many blocks. A block the
 * conversation marks (a compaction's summary) takes the fourth: the summary
 * stays the same until the next compaction, so it is read from the cache by
 * every request until then, however far the turns after it move.
 */
export function toAnthropicParams(request: ModelRequest): MessageStreamParams {
  const tools: Tool[] = request.tools.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: { type: "object", ...t.inputSchema } as Tool["input_schema"],
  }));
  const system: TextBlockParam[] = request.system
    ? [{ type: "text", text: request.system, cache_control: ephemeral }]
    : [];
  const lastTool = tools.at(-1);
  if (system.length === 0 && lastTool) lastTool.cache_control = ephemeral;

  const messages: MessageParam[] = request.messages.map((m) => ({ role: m.role, content: m.content.map(toParam) }));
  request.messages.forEach((m, i) => {
    m.content.forEach((block, k) => {
      const param = messages[i]?.content[k];
      if (block.type === "text" && block.cacheBreakpoint && typeof param === "object") {
        (param as { cache_control?: unknown }).cache_control = ephemeral;
      }
    });
  });
  const userTurns = messages.flatMap((m, i) => (m.role === "user" ? [i] : []));
  const marks = new Set([messages.length - 1, userTurns.at(-2)]);
  for (const i of marks) {
    if (i === undefined) continue;
    const content = messages[i]?.content;
    const last = Array.isArray(content) ? content.at(-1) : undefined;
    // Thinking blocks cannot carry cache_control; every other block we send can.
    if (last && last.type !== "thinking" && last.type !== "redacted_thinking") {
      (last as { cache_control?: unknown }).cache_control = ephemeral;
    }
  }

  return {
    model: request.model,
    max_tokens: request.maxTokens,
    messages,
    ...(system.length > 0 ? { system } : {}),
    ...(tools.length > 0 ? { tools } : {}),
  };
}

function toParam(block: ConversationBlock): ContentBlockParam {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text };
    case "thinking":
      return { type: "thinking", thinking: block.thinking, signature: block.signature };
    case "redacted_thinking":
      return { type: "redacted_thinking", data: block.data };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input };
    case "tool_result":
      return { type: "tool_result", tool_use_id: block.tool_use_id, content: block.content, is_error: block.is_error };
  }
}
