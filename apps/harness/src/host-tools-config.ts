import { readFileSync } from "node:fs";
import { type HostToolSpec, parseHostToolsConfig } from "@reins/harness-core";

type Env = Record<string, string | undefined>;

/**
 * The host tools named by REINS_HOST_TOOLS_CONFIG (a YAML file; none when
 * unset), with their secrets read now from the environment variables or files
 * the file names: a missing secret stops the daemon at startup rather than
 * failing calls later. Errors name where a secret was to be found, never its
 * value.
 */
export function loadHostTools(env: Env): HostToolSpec[] {
  const path = env.REINS_HOST_TOOLS_CONFIG;
  if (!path) return [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`REINS_HOST_TOOLS_CONFIG=${path} cannot be read: ${(err as Error).message}`);
  }
  return parseHostToolsConfig(text, path, { env, readFile: (file) => readFileSync(file, "utf8") });
}
