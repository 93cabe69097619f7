import { parse as parseYaml } from "yaml";
import { executorIdPattern } from "../validate.js";
import type { TokenGrant } from "./auth.js";
import { minTokenLength, readSecretFile } from "./token-grants.js";

/** The role of a registration token: it may only heartbeat and deregister its own executor id. */
export const executorRole = "executor";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the executors' registration tokens from `<PREFIX>_TOKENS_FILE` (a YAML
 * or JSON file) or `<PREFIX>_TOKENS` (the same document inline): a list of
 * `{executor, token}`, each token bound to exactly one executor id. They become
 * grants of role "executor" carrying that id, to be verified together with the
 * service's other grants. Undefined when neither variable is set. Like
 * loadTokenGrants, errors name the variable and the entry, never a token.
 */
export function loadRegistrationTokens(env: Env, prefix: string): TokenGrant[] | undefined {
  const fileVar = `${prefix}_TOKENS_FILE`;
  const inlineVar = `${prefix}_TOKENS`;
  const path = env[fileVar];
  const inline = env[inlineVar];
  if (path && inline) throw new Error(`${fileVar} and ${inlineVar} are both set: use one`);
  if (!path && !inline) return undefined;
  const source = path ? `${fileVar}=${path}` : inlineVar;
  return parseRegistrationTokens(path ? readSecretFile(fileVar, path) : (inline as string), source);
}

/** Parses and checks a registration tokens document; `source` names where it came from in errors. */
export function parseRegistrationTokens(text: string, source: string): TokenGrant[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw new Error(`${source}: not valid YAML or JSON (expected a list of {executor, token})`);
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    throw new Error(`${source}: expected a non-empty list of {executor, token}`);
  }
  const tokens = new Set<string>();
  const ids = new Set<string>();
  return doc.map((entry: unknown, i) => {
    const where = `${source}: entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`${where} must be a mapping {executor, token}`);
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (key !== "executor" && key !== "token") {
        throw new Error(`${where} has an unknown field ${JSON.stringify(key)} (expected executor, token)`);
      }
    }
    if (typeof e.executor !== "string" || !executorIdPattern.test(e.executor)) {
      throw new Error(`${where} needs an executor id of 1-64 characters from A-Z a-z 0-9 _ -`);
    }
    // One token per id keeps "which host is this" answerable from the token alone.
    if (ids.has(e.executor)) throw new Error(`${where}: executor "${e.executor}" is listed twice`);
    ids.add(e.executor);
    if (typeof e.token !== "string" || e.token.length < minTokenLength) {
      throw new Error(`${where} needs a token of at least ${minTokenLength} characters`);
    }
    if (/\s/.test(e.token)) throw new Error(`${where}: the token must not contain whitespace`);
    if (tokens.has(e.token)) throw new Error(`${where}: the same token is listed twice`);
    tokens.add(e.token);
    return { token: e.token, role: executorRole, tenant: "", executorId: e.executor };
  });
}
