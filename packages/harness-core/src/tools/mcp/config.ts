import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { McpServersConfigError } from "../../errors.js";
import { type HostToolCredential, resolveCredential, type SecretSources } from "../host-tools/index.js";
import { mcpServersFileSchema, type RawMcpServer, type RawMcpServersFile } from "./config-schema.js";

/**
 * A remote MCP server (streamable HTTP) whose tools the harness calls itself,
 * with a credential the sandbox never sees.
 */
export interface McpServerSpec {
  /** Its tools are offered as `mcp__<name>__<tool>`. */
  readonly name: string;
  readonly url: string;
  /** The url's origin: the only one any request for this server goes to, and so its credential. */
  readonly origin: string;
  readonly credential?: HostToolCredential;
  /** Tenants whose sessions may use its tools; undefined: every tenant's. */
  readonly tenants?: readonly string[];
  readonly timeoutMs: number;
  readonly maxResultBytes: number;
  readonly listTtlMs: number;
  /** Whether a tool's `idempotentHint` makes it idempotent (re-run after a crash). */
  readonly trustIdempotentHint: boolean;
}

export const defaultMcpTimeoutMs = 30_000;
export const defaultMcpMaxResultBytes = 64 * 1024;
export const defaultMcpListTtlMs = 5 * 60_000;

const fileValidator = new Ajv({ allErrors: true, strict: false }).compile(mcpServersFileSchema);

/**
 * Parses and checks an MCP servers document: shape, unique names, URLs, and
 * that every credential is present. Every problem is reported at once; no
 * message contains a secret, only where it was to be found. Nothing is
 * contacted: a server that is down at startup is a tool failure later, not a
 * harness that cannot start.
 */
export function parseMcpServersConfig(text: string, source: string, secrets: SecretSources): McpServerSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new McpServersConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (!fileValidator(doc)) {
    const detail = (fileValidator.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");
    throw new McpServersConfigError(`${source} is invalid:\n${detail}`);
  }
  const problems: string[] = [];
  const specs: McpServerSpec[] = [];
  const seen = new Set<string>();
  (doc as RawMcpServersFile).servers.forEach((raw, i) => {
    const where = `servers[${i}] (${raw.name})`;
    if (seen.has(raw.name)) problems.push(`${where}: duplicate server name`);
    seen.add(raw.name);
    try {
      specs.push(resolveServer(raw, secrets));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  if (problems.length > 0) throw new McpServersConfigError(`${source} is invalid:\n${problems.join("\n")}`);
  return specs;
}

function resolveServer(raw: RawMcpServer, secrets: SecretSources): McpServerSpec {
  if (!URL.canParse(raw.url)) throw new Error(`url ${JSON.stringify(raw.url)} is not a URL`);
  const url = new URL(raw.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`url must be http or https (streamable HTTP), not ${url.protocol.slice(0, -1)}`);
  }
  // A credential in the URL would be sent, logged and shown wherever the URL is.
  if (url.username !== "" || url.password !== "") {
    throw new Error("url must not hold credentials: use credential.env or credential.file");
  }
  let credential: HostToolCredential | undefined;
  if (raw.credential) {
    const header = (raw.credential.header ?? "authorization").toLowerCase();
    const prefix = raw.credential.prefix ?? (header === "authorization" ? "Bearer " : "");
    try {
      credential = resolveCredential({ ...raw.credential, header, prefix }, url.origin, secrets);
    } catch (err) {
      throw new Error((err as Error).message.replace(/^secret/, "credential"));
    }
  }
  return {
    name: raw.name,
    url: url.href,
    origin: url.origin,
    ...(credential ? { credential } : {}),
    ...(raw.tenants !== undefined ? { tenants: raw.tenants } : {}),
    timeoutMs: raw.timeout_ms ?? defaultMcpTimeoutMs,
    maxResultBytes: raw.max_result_bytes ?? defaultMcpMaxResultBytes,
    listTtlMs: raw.list_ttl_ms ?? defaultMcpListTtlMs,
    trustIdempotentHint: raw.trust_idempotent_hint ?? false,
  };
}
