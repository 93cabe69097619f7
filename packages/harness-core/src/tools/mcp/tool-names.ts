/**
 * How MCP tools are named to the model: `mcp__<server>__<tool>`. Server names
 * cannot hold "__" (config-schema.ts), so the first "__" after the prefix ends
 * the server's name and a call routes without a listing.
 */
const prefix = "mcp__";
const modelToolName = /^[A-Za-z0-9_-]{1,64}$/;

/** The name the model sees, or undefined when the Messages API would refuse it. */
export function exposedName(server: string, tool: string): string | undefined {
  const name = `${prefix}${server}__${tool}`;
  return modelToolName.test(name) ? name : undefined;
}

/** The server and the server's own tool name of an exposed name; undefined for any other name. */
export function parseExposedName(name: string): { server: string; tool: string } | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  const cut = rest.indexOf("__");
  if (cut <= 0 || cut + 2 >= rest.length) return undefined;
  return { server: rest.slice(0, cut), tool: rest.slice(cut + 2) };
}
