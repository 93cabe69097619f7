import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { TokenGrant } from "./auth.js";

/** The roles a token may carry. */
export const roles = ["client", "harness", "operator"] as const;
export type Role = (typeof roles)[number];

/** Shortest token accepted: anything shorter is guessable. */
export const minTokenLength = 16;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads a daemon's token grants from `<PREFIX>_TOKENS_FILE` (a YAML or JSON file)
 * or `<PREFIX>_TOKENS` (the same document inline): a list of
 * `{token, role, tenant}`. Undefined when neither is set (authentication off).
 * Every error names the variable and the entry, never the token itself, so a
 * refused configuration cannot leak a secret into a log.
 */
export function loadTokenGrants(env: Env, prefix: string): TokenGrant[] | undefined {
  const fileVar = `${prefix}_TOKENS_FILE`;
  const inlineVar = `${prefix}_TOKENS`;
  const path = env[fileVar];
  const inline = env[inlineVar];
  if (path && inline) throw new Error(`${fileVar} and ${inlineVar} are both set: use one`);
  if (!path && !inline) return undefined;
  const source = path ? `${fileVar}=${path}` : inlineVar;
  const text = path ? readSecretFile(fileVar, path) : (inline as string);
  return parseTokenGrants(text, source);
}

/** Parses and checks a grants document; `source` names where it came from in errors. */
export function parseTokenGrants(text: string, source: string): TokenGrant[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    // The parser's message quotes the offending line, which may hold a token.
    throw new Error(`${source}: not valid YAML or JSON (expected a list of {token, role, tenant})`);
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    throw new Error(`${source}: expected a non-empty list of {token, role, tenant}`);
  }
  const seen = new Set<string>();
  return doc.map((entry: unknown, i) => {
    const where = `${source}: entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`${where} must be a mapping {token, role, tenant}`);
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (key !== "token" && key !== "role" && key !== "tenant") {
        throw new Error(`${where} has an unknown field ${JSON.stringify(key)} (expected token, role, tenant)`);
      }
    }
    if (typeof e.token !== "string" || e.token.length < minTokenLength) {
      throw new Error(`${where} needs a token of at least ${minTokenLength} characters`);
    }
    if (/\s/.test(e.token)) throw new Error(`${where}: the token must not contain whitespace`);
    if (seen.has(e.token)) throw new Error(`${where}: the same token is listed twice`);
    seen.add(e.token);
    if (typeof e.role !== "string" || !(roles as readonly string[]).includes(e.role)) {
      throw new Error(`${where} needs a role: one of ${roles.join(", ")}`);
    }
    if (e.tenant !== undefined && e.tenant !== null && typeof e.tenant !== "string") {
      throw new Error(`${where}: tenant must be a string`);
    }
    const tenant = typeof e.tenant === "string" ? e.tenant : "";
    if (tenant.length > 128) throw new Error(`${where}: tenant is longer than 128 characters`);
    return { token: e.token, role: e.role, tenant };
  });
}

/**
 * A single secret from `NAME`, or from the file `NAME_FILE` names (a mounted
 * secret), trimmed. Undefined when neither is set.
 */
export function loadSecret(env: Env, name: string): string | undefined {
  if (env[name]) return env[name];
  const path = env[`${name}_FILE`];
  if (!path) return undefined;
  const value = readSecretFile(`${name}_FILE`, path).trim();
  if (!value) throw new Error(`${name}_FILE=${path} is empty`);
  return value;
}

/** A file's text; the error names the variable and path, never the content. */
export function readSecretFile(name: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`${name}=${path} cannot be read: ${(err as Error).message}`);
  }
}
