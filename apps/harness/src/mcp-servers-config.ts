import { readFileSync } from "node:fs";
import { type McpServerSpec, parseMcpServersConfig } from "@reins/harness-core";

type Env = Record<string, string | undefined>;

/**
 * The MCP servers named by REINS_MCP_SERVERS_CONFIG (a YAML file; none when
 * unset), with their credentials read now, as host tools' are: a missing one
 * stops the daemon at startup. A file of its own, not a section of the host
 * tools file: a server's tools come from the server, so it shares none of a
 * host tool's fields but the credential, and each file can be owned, mounted
 * and rotated on its own.
 */
export function loadMcpServers(env: Env): McpServerSpec[] {
  const path = env.REINS_MCP_SERVERS_CONFIG;
  if (!path) return [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`REINS_MCP_SERVERS_CONFIG=${path} cannot be read: ${(err as Error).message}`);
  }
  return parseMcpServersConfig(text, path, { env, readFile: (file) => readFileSync(file, "utf8") });
}
