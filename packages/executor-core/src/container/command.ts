import { randomBytes } from "node:crypto";
import { CommandInputError } from "../errors.js";

const fieldPattern = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Input fields a template refers to. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(fieldPattern)].map((m) => m[1] as string);
}

/**
 * Replaces each `{{field}}` with the input's value: strings as they are, other
 * values as JSON, missing fields as "". A value is always exactly one argument:
 * nothing is split or re-parsed by a shell on the way.
 */
export function renderTemplate(template: string, input: Record<string, unknown>): string {
  return template.replace(fieldPattern, (_, field: string) => {
    const value = input[field];
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  });
}

export function renderArgv(argv: readonly string[], input: Record<string, unknown>): string[] {
  return argv.map((template, i) => {
    const arg = renderTemplate(template, input);
    if (arg.includes("\0")) {
      const fields = templateFields(template).join(", ");
      throw new CommandInputError(`input field ${fields} contains a NUL byte, which cannot be a command argument`);
    }
    if (i === 0 && arg === "") throw new CommandInputError("the command to run is empty");
    return arg;
  });
}

/** Single-quotes a string for POSIX sh; the only character to handle is `'` itself. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * What every sandbox container runs as PID 1: it blocks on stdin until a call
 * delivers one line (a base64 script), then runs that script. A pre-started
 * container therefore holds nothing call-specific until the call arrives.
 */
export const runnerArgv: readonly string[] = [
  "/bin/sh",
  "-c",
  'IFS= read -r s || exit 125; s=$(printf %s "$s" | base64 -d) || exit 125; eval "$s"',
];

export const sandboxPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

export interface Script {
  /** What to write on the container's stdin: the script line, then the tool's stdin. */
  readonly delivery: Buffer;
  /** Random marker of the exit-status trailer the script prints on stdout and stderr. */
  readonly nonce: string;
}

/**
 * Builds the call's script. The tool process starts from an empty environment
 * (`env -i`) plus PATH, HOME and what the tool's config names, so nothing from
 * Docker or the image leaks in. After it exits, the script prints
 * `<nonce><exit code>:<OOM kills>\n` on stdout and on stderr: the executor answers as soon as
 * both arrive, instead of waiting for Docker to notice the container stopped
 * (tens of milliseconds).
 */
export function buildScript(options: {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  workspace: boolean;
  stdin?: Buffer | undefined;
}): Script {
  const nonce = `__reins_exit_${randomBytes(12).toString("hex")}:`;
  const envArgs = [`PATH=${sandboxPath}`, `HOME=${options.workspace ? "/workspace" : "/tmp"}`];
  for (const [name, value] of Object.entries(options.env)) envArgs.push(`${name}=${value}`);
  const lines = [
    options.workspace ? "cd /workspace || exit 126" : "cd /tmp",
    `env -i ${[...envArgs, ...options.argv].map(shellQuote).join(" ")}`,
    "c=$?",
    // OOM kills in the container's memory cgroup (v2, then v1), read with builtins
    // only: at the pids limit not even one more process can start.
    "o=0",
    "for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do",
    '  if [ -r "$f" ]; then while read -r k v; do [ "$k" = oom_kill ] && o=$v; done < "$f"; fi',
    "done",
    `printf '%s%d:%d\\n' ${shellQuote(nonce)} "$c" "$o"`,
    `printf '%s%d:%d\\n' ${shellQuote(nonce)} "$c" "$o" >&2`,
  ];
  const line = `${Buffer.from(lines.join("\n")).toString("base64")}\n`;
  const delivery = options.stdin ? Buffer.concat([Buffer.from(line), options.stdin]) : Buffer.from(line);
  return { delivery, nonce };
}
