import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { HostToolsConfigError } from "../../errors.js";
import { hostToolsFileSchema, type RawHostTool, type RawHostToolsFile } from "./config-schema.js";
import { fixedOrigin, type HttpMethod, parseOrigin, templateFields } from "./request-url.js";

/**
 * A configured HTTP tool that the harness runs itself, outside any sandbox,
 * because it needs a credential the sandbox must never see.
 */
export interface HostToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
  readonly method: HttpMethod;
  /** URL template: `{field}` (percent-encoded) and `{+field}` (as given) take input fields. */
  readonly url: string;
  /** Origins the request (and any redirect it follows) may go to. */
  readonly allowedOrigins: readonly string[];
  /**
   * The header that carries the secret, and the one origin it is sent to; the
   * value is only reachable through `value()`.
   */
  readonly credential?: HostToolCredential;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly idempotent: boolean;
  /**
   * Tenants whose sessions may use the tool (and so its credential); undefined:
   * every tenant's. To any other session the harness behaves as if the tool
   * were not configured.
   */
  readonly tenants?: readonly string[];
}

/**
 * Where a secret goes. The value lives in a closure, not in a field, so that
 * logging or serialising a spec by mistake cannot reveal it.
 */
export interface HostToolCredential {
  readonly header: string;
  /**
   * The only origin the header is sent to. Any other allowed origin (the
   * model's choice in a `{+url}`, or a redirect) gets the request without it:
   * an allow-list entry says where a request may go, not who may see the secret.
   */
  readonly origin: string;
  /** The header value: the prefix and the secret. */
  readonly value: () => string;
  /** The secret alone, as it was read: what a server echoing it back would show. */
  readonly secret: () => string;
}

/** Where secrets named by the file are read from (the process's environment and files). */
export interface SecretSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
}

export const defaultTimeoutMs = 10_000;
export const defaultMaxResponseBytes = 64 * 1024;

const fileValidator = new Ajv({ allErrors: true, strict: false }).compile(hostToolsFileSchema);

/**
 * Parses and checks a host tools document: shape, input schemas (compiled with
 * ajv), URL templates against their schemas, allow-lists, and that every
 * secret is present. Every problem is reported at once; no message ever
 * contains a secret, only where it was to be found.
 */
export function parseHostToolsConfig(text: string, source: string, secrets: SecretSources): HostToolSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new HostToolsConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (!fileValidator(doc)) {
    const detail = (fileValidator.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");
    throw new HostToolsConfigError(`${source} is invalid:\n${detail}`);
  }
  const problems: string[] = [];
  const specs: HostToolSpec[] = [];
  const seen = new Set<string>();
  const schemaCheck = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  (doc as RawHostToolsFile).tools.forEach((raw, i) => {
    const where = `tools[${i}] (${raw.name})`;
    if (seen.has(raw.name)) problems.push(`${where}: duplicate tool name`);
    seen.add(raw.name);
    try {
      specs.push(resolveTool(raw, schemaCheck, secrets));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  if (problems.length > 0) throw new HostToolsConfigError(`${source} is invalid:\n${problems.join("\n")}`);
  return specs;
}

function resolveTool(raw: RawHostTool, ajv: Ajv, secrets: SecretSources): HostToolSpec {
  const schema = raw.input_schema;
  if (schema.type !== "object") throw new Error('input_schema must have type: "object" (tool input is a JSON object)');
  try {
    ajv.compile(schema);
  } catch (err) {
    throw new Error(`input_schema is not a valid JSON Schema: ${(err as Error).message}`);
  }
  const properties = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
  for (const field of templateFields(raw.url)) {
    if (!properties.includes(field)) throw new Error(`url uses {${field}} but input_schema has no property "${field}"`);
  }
  const allowedOrigins = raw.allowed_origins.map((entry, j) => {
    try {
      return parseOrigin(entry);
    } catch (err) {
      throw new Error(`allowed_origins[${j}]: ${(err as Error).message}`);
    }
  });
  // A URL that can only ever go to a refused origin is a mistake in the file, not a runtime surprise.
  const fixed = fixedOrigin(raw.url);
  if (fixed !== undefined && !allowedOrigins.includes(fixed)) {
    throw new Error(`url goes to ${fixed}, which is not in allowed_origins (${allowedOrigins.join(", ")})`);
  }
  return {
    name: raw.name,
    description: raw.description,
    inputSchema: schema,
    method: raw.method ?? "GET",
    url: raw.url,
    allowedOrigins,
    credential: raw.secret
      ? resolveCredential(raw.secret, secretOrigin(raw, fixed, allowedOrigins), secrets)
      : undefined,
    timeoutMs: raw.timeout_ms ?? defaultTimeoutMs,
    maxResponseBytes: raw.max_response_bytes ?? defaultMaxResponseBytes,
    idempotent: raw.idempotent ?? false,
    ...(raw.tenants !== undefined ? { tenants: raw.tenants } : {}),
  };
}

/** The origin a tool's secret is bound to: named, or the only one it can mean. */
function secretOrigin(raw: RawHostTool, fixed: string | undefined, allowedOrigins: readonly string[]): string {
  const named = raw.secret?.origin;
  if (named === undefined) {
    if (fixed !== undefined) return fixed;
    if (allowedOrigins.length === 1) return allowedOrigins[0] as string;
    throw new Error(
      `secret.origin is required: the url's origin depends on the input and allowed_origins has ${allowedOrigins.length} entries; name the one the secret is for`,
    );
  }
  let origin: string;
  try {
    origin = parseOrigin(named);
  } catch (err) {
    throw new Error(`secret.origin: ${(err as Error).message}`);
  }
  if (!allowedOrigins.includes(origin)) {
    throw new Error(`secret.origin ${origin} is not in allowed_origins (${allowedOrigins.join(", ")})`);
  }
  if (fixed !== undefined && fixed !== origin) {
    throw new Error(`secret.origin ${origin} is not where url goes (${fixed}): the secret would never be sent`);
  }
  return origin;
}

/**
 * Reads a secret from where `secret` says and binds it to `origin`; host tools
 * and MCP servers share it, so a credential is handled one way everywhere.
 */
export function resolveCredential(
  secret: NonNullable<RawHostTool["secret"]>,
  origin: string,
  sources: SecretSources,
): HostToolCredential {
  let value: string;
  if (secret.env !== undefined) {
    value = sources.env[secret.env] ?? "";
    if (value === "") throw new Error(`secret.env: ${secret.env} is not set or empty`);
  } else {
    const path = secret.file as string;
    try {
      // A mounted secret file usually ends with a newline that is not part of the secret.
      value = sources.readFile(path).trim();
    } catch (err) {
      throw new Error(`secret.file: ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (value === "") throw new Error(`secret.file: ${path} is empty`);
  }
  // A header value cannot hold these; saying which character would say something about the secret.
  const full = `${secret.prefix ?? ""}${value}`;
  if (/[\r\n\0]/.test(full))
    throw new Error("secret: the value contains a line break or NUL, so it cannot be a header");
  return { header: secret.header.toLowerCase(), origin, value: () => full, secret: () => value };
}
