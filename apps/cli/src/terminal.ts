import type { Writable } from "node:stream";
import picocolors from "picocolors";

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Where a command writes, and whether it may use colour and spinners there. */
export interface Terminal {
  readonly out: Writable;
  readonly err: Writable;
  /** stdout is an interactive terminal: spinners and live rewriting are allowed. */
  readonly isTTY: boolean;
  /** Colours for stdout (no-ops when colour is off). */
  readonly colors: Colors;
  /** Colours for stderr. */
  readonly errColors: Colors;
  /** Columns of stdout, or 100 when it is not a terminal. */
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
    colors,
    errColors: picocolors.createColors(colorEnabled(err, env)),
    columns: out.columns ?? 100,
    print: (line = "") => out.write(`${line}\n`),
    note: (line) => err.write(`${line}\n`),
  };
}
