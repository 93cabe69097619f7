import type { Writable } from "node:stream";
import picocolors from "picocolors";

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Where a command writes, and whether it may use colour and spinners there. */
export interface Terminal {
  readonly out: Writable;
  readonly err: Writable;
  /** stdout is an interactive terminal: live rewriting is allowed. */
  readonly isTTY: boolean;
  /** stdout may show a spinner (see `spinnerAllowed`). */
  readonly spinners: boolean;
  /** Colours for stdout (no-ops when colour is off). */
  readonly colors: Colors;
  /** Colours for stderr. */
  readonly errColors: Colors;
  /** Columns of stdout, or 100 when it is not a terminal or does not say. */
  readonly columns: number;
  print(line?: string): void;
  /** A message for the user that is not the command's output (stderr). */
  note(line: string): void;
}

type Stream = Writable & { isTTY?: boolean; columns?: number };

/**
 * Colour only on a terminal: NO_COLOR always wins, FORCE_COLOR turns it on for
 * pipes (e.g. tests that want to see the escapes), TERM=dumb turns it off.
 */
export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/**
 * A spinner redraws its lines in place, which needs the terminal's width: a
 * pty that reports 0 columns (`script` fed from a pipe, a serial console) has
 * ora clear an unbounded number of lines above it, forever.
 */
export function spinnerAllowed(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.TERM !== "dumb" && (stream.columns ?? 0) > 0;
}

export function createTerminal(
  out: Stream = process.stdout,
  err: Stream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Terminal {
  const colors = picocolors.createColors(colorEnabled(out, env));
  return {
    out,
    err,
    isTTY: out.isTTY === true && env.TERM !== "dumb",
    spinners: spinnerAllowed(out, env),
    colors,
    errColors: picocolors.createColors(colorEnabled(err, env)),
    columns: out.columns || 100,
    print: (line = "") => out.write(`${line}\n`),
    note: (line) => err.write(`${line}\n`),
  };
}
