import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerSpec } from "./config.js";
import { ConnectionBrokenError, describe, NotSentError } from "./server-link.js";

/**
 * A tool's result as the text the model reads: text blocks as they are, other
 * content named by kind (the harness passes text only), structured content as
 * JSON when there is nothing else.
 */
export function resultText(result: CallToolResult): string {
  const parts = (result.content ?? []).map((block) => {
    switch (block.type) {
      case "text":
        return block.text;
      case "image":
      case "audio":
        return `[${block.type} ${block.mimeType}, ${Math.floor((block.data.length * 3) / 4)} bytes, not shown]`;
      case "resource_link":
        return `[resource ${block.uri}${block.name ? ` (${block.name})` : ""}]`;
      case "resource":
        return "text" in block.resource ? block.resource.text : `[resource ${block.resource.uri}, binary, not shown]`;
      default:
        return `[${(block as { type: string }).type} content, not shown]`;
    }
  });
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return parts.join("\n");
}

/**
 * The error string the model reads when the call itself failed. It says
 * whether the tool may have run: a request never sent did not, a broken
 * connection or a timeout leaves its outcome unknown.
 */
export function describeCallFailure(spec: McpServerSpec, tool: string, err: unknown): string {
  const at = `MCP server ${spec.name} (${spec.origin})`;
  const detail = describe(err);
  const status = (err as { code?: unknown }).code;
  if (err instanceof ConnectionBrokenError) {
    return `error: the connection to ${at} broke during ${tool}; its outcome is unknown: ${detail}`;
  }
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) {
      return `error: ${tool} timed out after ${spec.timeoutMs} ms at ${at}; its outcome is unknown`;
    }
    if (err.code === ErrorCode.ConnectionClosed) {
      return `error: the connection to ${at} closed during ${tool}; its outcome is unknown: ${detail}`;
    }
    return `error: ${at} refused ${tool} (MCP error ${err.code}): ${err.message}`;
  }
  if (status === 401 || status === 403) {
    return `error: ${at} refused the harness's credential (HTTP ${status}), so ${tool} did not run`;
  }
  if (err instanceof NotSentError || (err as Error).name === "UnauthorizedError") {
    const cause = (err as Error).cause as { code?: unknown } | undefined;
    if (cause?.code === 401 || cause?.code === 403) {
      return `error: ${at} refused the harness's credential (HTTP ${cause.code}), so ${tool} did not run`;
    }
    return `error: ${at} is unavailable, so ${tool} did not run: ${detail}`;
  }
  // A 4xx is the server refusing the request; after a 5xx nobody can say how far it got.
  if (typeof status === "number" && status >= 400 && status < 500) {
    return `error: ${at} refused ${tool}: ${detail}`;
  }
  if (typeof status === "number" && status >= 500) {
    return `error: ${at} failed during ${tool}; its outcome is unknown: ${detail}`;
  }
  return `error: the connection to ${at} failed during ${tool}; its outcome is unknown: ${detail}`;
}
