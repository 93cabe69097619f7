import type { MessagesRequestBody } from "./types.js";

type Json = Record<string, unknown>;

const toolNamePattern = /^[a-zA-Z0-9_-]{1,128}$/;

/**
 * Checks a Messages API request the way the real API does, returning the
 * message of the 400 invalid_request_error it would answer, or undefined when
 * the request is valid. The rule that matters most to an agent loop: every
 * assistant `tool_use` must be answered by a `tool_result` in the very next
 * (user) message, and every `tool_result` must answer a `tool_use` of the
 * message just before; otherwise the conversation can never be sent again.
 */
export function validateMessagesRequest(body: MessagesRequestBody | undefined): string | undefined {
  if (body === undefined || typeof body !== "object") return "request body must be a JSON object";
  if (typeof body.model !== "string" || body.model === "") return "model: Field required";
  if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    return "max_tokens: must be a positive integer";
  }
  const toolsError = validateTools(body.tools);
  if (toolsError) return toolsError;
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "messages: at least one message is required";

  const messages = body.messages as unknown[];
  const seenToolUseIds = new Set<string>();
  let cacheBreakpoints = countCacheControl(body.system) + countCacheControl(body.tools);
  for (const [i, raw] of messages.entries()) {
    if (!isObject(raw)) return `messages.${i}: must be an object`;
    const { role, content } = raw;
    if (role !== "user" && role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i === 0 && role !== "user") return `messages: first message must use the "user" role`;
    const isFinal = i === messages.length - 1;
    const blocks = typeof content === "string" ? [{ type: "text", text: content }] : content;
    if (!Array.isArray(blocks)) return `messages.${i}.content: Input should be a valid list`;
    if (blocks.length === 0 && !(isFinal && role === "assistant")) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    cacheBreakpoints += countCacheControl(blocks);

    let seenNonResult = false;
    for (const [k, block] of blocks.entries()) {
      if (!isObject(block)) return `messages.${i}.content.${k}: must be an object`;
      const where = `messages.${i}.content.${k}`;
      switch (block.type) {
        case "text":
          if (typeof block.text !== "string" || block.text === "") {
            return `${where}.text: text content blocks must be non-empty`;
          }
          seenNonResult = true;
          break;
        case "tool_use":
          if (role !== "assistant") return `${where}: tool_use blocks are only allowed in assistant messages`;
          if (typeof block.id !== "string" || block.id === "") return `${where}.id: Field required`;
          if (seenToolUseIds.has(block.id)) return `${where}: tool_use ids must be unique; found ${block.id} twice`;
          seenToolUseIds.add(block.id);
          if (!isObject(block.input)) return `${where}.input: Input should be a valid dictionary`;
          break;
        case "tool_result":
          if (role !== "user") return `${where}: tool_result blocks are only allowed in user messages`;
          if (seenNonResult) return `${where}: tool_result blocks must come before any other content in a user message`;
          break;
        case "thinking":
        case "redacted_thinking":
          if (role !== "assistant") return `${where}: ${block.type} blocks are only allowed in assistant messages`;
          break;
        default:
          seenNonResult = true;
      }
    }
    const pairing = checkToolPairing(messages, i);
    if (pairing) return pairing;
  }
  if (cacheBreakpoints > 4) {
    return `A maximum of 4 blocks with cache_control may be provided. Found ${cacheBreakpoints}.`;
  }
  return undefined;
}

// Checks message i against its neighbours: the results it owes (assistant) or
// answers (user).
function checkToolPairing(messages: unknown[], i: number): string | undefined {
  const message = messages[i] as Json;
  if (message.role === "assistant") {
    const ids = toolUseIds(message);
    if (ids.length === 0) return undefined;
    const next = messages[i + 1];
    const answered = new Set(isObject(next) && next.role === "user" ? toolResultIds(next) : []);
    const missing = ids.filter((id) => !answered.has(id));
    // A final assistant message is a prefill: nothing follows it yet.
    if (missing.length > 0 && next !== undefined) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
    return undefined;
  }
  const results = toolResultIds(message);
  if (results.length === 0) return undefined;
  const previous = messages[i - 1];
  const asked = new Set(isObject(previous) && previous.role === "assistant" ? toolUseIds(previous) : []);
  const unexpected = results.filter((id) => !asked.has(id));
  if (unexpected.length > 0) {
    return `messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(", ")}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
  }
  const dupes = results.filter((id, n) => results.indexOf(id) !== n);
  if (dupes.length > 0) return `messages.${i}: duplicate \`tool_result\` blocks for tool_use ids: ${dupes.join(", ")}`;
  return undefined;
}

function validateTools(tools: unknown): string | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) return "tools: Input should be a valid list";
  const names = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (!isObject(tool)) return `tools.${i}: must be an object`;
    if (typeof tool.name !== "string" || !toolNamePattern.test(tool.name)) {
      return `tools.${i}.name: String should match pattern '${toolNamePattern.source}'`;
    }
    if (names.has(tool.name)) return `tools: Tool names must be unique; found ${tool.name} twice`;
    names.add(tool.name);
    if (!isObject(tool.input_schema) || tool.input_schema.type !== "object") {
      return `tools.${i}.input_schema.type: Input should be 'object'`;
    }
  }
  return undefined;
}

function toolUseIds(message: Json): string[] {
  return blocksOf(message)
    .filter((b) => b.type === "tool_use")
    .map((b) => String(b.id));
}

function toolResultIds(message: Json): string[] {
  return blocksOf(message)
    .filter((b) => b.type === "tool_result")
    .map((b) => String(b.tool_use_id));
}

function blocksOf(message: Json): Json[] {
  return Array.isArray(message.content) ? message.content.filter(isObject) : [];
}

function countCacheControl(value: unknown): number {
  if (!Array.isArray(value)) return 0;
  return value.filter((b) => isObject(b) && b.cache_control !== undefined && b.cache_control !== null).length;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
