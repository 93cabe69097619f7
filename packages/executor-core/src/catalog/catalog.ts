import { readFile } from "node:fs/promises";
import { Ajv, type ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import { templateFields } from "../container/index.js";
import { CatalogError } from "../errors.js";
import { formatBytes, parseBytes, parseDuration } from "../units.js";
import { minWorkspaceBytes } from "../workspace/index.js";
import { catalogFileSchema } from "./catalog-schema.js";
import { formatSchemaErrors } from "./schema-errors.js";

/** One tool, resolved from the catalog file with defaults applied. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the input object. */
  readonly inputSchema: Record<string, unknown>;
  readonly image: string;
  /** argv template: `{{field}}` is replaced by the input field, never split or re-parsed. */
  readonly argv: readonly string[];
  /** Template of what the process reads on stdin; undefined: empty stdin. */
  readonly stdin: string | undefined;
  readonly timeoutMs: number;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly pids: number;
  readonly maxOutputBytes: number;
  readonly maxInputBytes: number;
  /** Size of the tmpfs at /tmp. */
  readonly tmpfsBytes: number;
  /** Docker network mode; "none" unless the catalog says otherwise. */
  readonly network: string;
  /**
   * The engine runtime its containers run under ("runsc": gVisor); undefined: the engine's
   * default runtime (runc unless the engine says otherwise).
   */
  readonly runtime: string | undefined;
  /** "session": the session's volume is mounted at /workspace. */
  readonly workspace: "none" | "session";
  /** The process's whole environment besides PATH and HOME. */
  readonly env: Readonly<Record<string, string>>;
  readonly idempotent: boolean;
  readonly validate: ValidateFunction;
}

export interface PoolSettings {
  /** Pre-started containers kept per container profile without a workspace. */
  readonly size: number;
  /** How long a session's pre-started container waits for its next call. */
  readonly sessionIdleMs: number;
  /** Most sessions that keep a pre-started container at once. */
  readonly sessionMax: number;
}

export interface WorkspaceLimits {
  /** Size of each session's workspace filesystem: writing past it fails with ENOSPC. */
  readonly sizeBytes: number;
}

export interface Catalog {
  readonly tools: readonly ToolSpec[];
  readonly pool: PoolSettings;
  readonly workspaces: WorkspaceLimits;
  get(name: string): ToolSpec | undefined;
}

interface RawLimits {
  image?: string;
  timeout?: string | number;
  memory?: string | number;
  cpus?: number;
  pids?: number;
  max_output_bytes?: string | number;
  max_input_bytes?: string | number;
  tmpfs_size?: string | number;
  network?: string;
  runtime?: string;
  workspace?: "none" | "session";
  env?: Record<string, string | number | boolean>;
}
// Every limit has a built-in default but the runtime, whose default is the engine's.
type Defaults = Required<Omit<RawLimits, "runtime">> & Pick<RawLimits, "runtime">;
interface RawTool extends RawLimits {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  command: { argv: string[]; stdin?: string };
  idempotent?: boolean;
}
interface RawCatalog {
  defaults?: RawLimits;
  pool?: { size?: number; session_idle?: string | number; session_max?: number };
  workspaces?: { size?: string | number };
  tools: RawTool[];
}

const builtinDefaults: Defaults = {
  image: "reins/sandbox",
  timeout: 30,
  memory: "256m",
  cpus: 1,
  pids: 128,
  max_output_bytes: "64k",
  max_input_bytes: "256k",
  tmpfs_size: "64m",
  network: "none",
  workspace: "none",
  env: {},
};

const fileValidator = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(catalogFileSchema);

export async function loadCatalog(path: string, overrides: { image?: string } = {}): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CatalogError(`cannot read tool catalog ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseCatalog(text, path, overrides);
}

/**
 * Parses and validates a catalog document. `overrides.image` replaces the default
 * image (tools that name their own image keep it).
 */
export function parseCatalog(text: string, source = "catalog", overrides: { image?: string } = {}): Catalog {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CatalogError(`${source}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!fileValidator(doc)) {
    throw new CatalogError(`${source} is invalid:\n${formatSchemaErrors(fileValidator.errors, "catalog")}`);
  }
  const raw = doc as RawCatalog;
  const problems: string[] = [];
  const inputAjv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const tools: ToolSpec[] = [];
  const seen = new Set<string>();
  raw.tools.forEach((t, i) => {
    const where = `tools[${i}] (${t.name})`;
    if (seen.has(t.name)) problems.push(`${where}: duplicate tool name`);
    seen.add(t.name);
    const merged: Defaults = {
      ...builtinDefaults,
      ...raw.defaults,
      ...(overrides.image ? { image: overrides.image } : {}),
      ...t,
    };
    try {
      tools.push(resolveTool(t, merged, inputAjv));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  let workspaceBytes = 0;
  try {
    workspaceBytes = workspaceSize(raw.workspaces?.size ?? "1g");
  } catch (err) {
    problems.push(`workspaces.size: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new CatalogError(`${source} is invalid:\n${problems.join("\n")}`);
  const byName = new Map(tools.map((t) => [t.name, t]));
  return {
    tools,
    pool: {
      size: raw.pool?.size ?? 2,
      sessionIdleMs: parseDuration(raw.pool?.session_idle ?? 60),
      sessionMax: raw.pool?.session_max ?? 16,
    },
    workspaces: { sizeBytes: workspaceBytes },
    get: (name) => byName.get(name),
  };
}

function resolveTool(raw: RawTool, merged: Defaults, ajv: Ajv): ToolSpec {
  const schema = raw.input_schema;
  if (schema.type !== "object") throw new Error('input_schema must have type: "object" (tool input is a JSON object)');
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new Error(`input_schema is not a valid JSON Schema: ${(err as Error).message}`);
  }
  const properties = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
  const templates = [
    ...raw.command.argv.map((a, j) => [`command.argv[${j}]`, a] as const),
    ...(raw.command.stdin === undefined ? [] : [["command.stdin", raw.command.stdin] as const]),
  ];
  for (const [at, template] of templates) {
    for (const field of templateFields(template)) {
      if (!properties.includes(field))
        throw new Error(`${at} uses {{${field}}} but input_schema has no property "${field}"`);
    }
  }
  const env = Object.fromEntries(Object.entries(merged.env).map(([k, v]) => [k, String(v)]));
  for (const name of Object.keys(env)) {
    if (name === "PATH" || name === "HOME") throw new Error(`env.${name} is set by the executor`);
  }
  return {
    name: raw.name,
    description: raw.description,
    inputSchema: schema,
    image: merged.image,
    argv: raw.command.argv,
    stdin: raw.command.stdin,
    timeoutMs: parseDuration(merged.timeout),
    memoryBytes: atLeast(parseBytes(merged.memory), 6 * 1024 * 1024, "memory"),
    cpus: merged.cpus,
    pids: merged.pids,
    maxOutputBytes: parseBytes(merged.max_output_bytes),
    maxInputBytes: parseBytes(merged.max_input_bytes),
    tmpfsBytes: parseBytes(merged.tmpfs_size),
    network: merged.network,
    runtime: merged.runtime,
    workspace: merged.workspace,
    env,
    idempotent: raw.idempotent ?? false,
    validate,
  };
}

const maxWorkspaceBytes = 1024 ** 4;

// Below 16 MiB ext4's own metadata would eat most of the workspace.
function workspaceSize(value: string | number): number {
  const bytes = parseBytes(value);
  if (bytes < minWorkspaceBytes || bytes > maxWorkspaceBytes) {
    throw new Error(
      `must be from ${formatBytes(minWorkspaceBytes)} to ${formatBytes(maxWorkspaceBytes)}, not ${formatBytes(bytes)}`,
    );
  }
  return bytes;
}

// Docker refuses memory limits under 6 MiB with an error that would only show at the first call.
function atLeast(value: number, min: number, what: string): number {
  if (value < min) throw new Error(`${what} must be at least ${min} bytes (Docker's minimum)`);
  return value;
}
