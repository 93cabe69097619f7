/** Exit codes of the `reins` command, as documented in `reins --help`. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An expected failure: its message is shown as one line, without a stack trace,
 * and the process exits with `exitCode`.
 */
export class CliError extends Error {
  override readonly name: string = "CliError";
  /** Extra lines shown under the message (e.g. the end of a log). */
  readonly details: readonly string[];
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    options?: { cause?: unknown; details?: readonly string[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = options?.details ?? [];
  }
}

/** Bad arguments or options: exit code 2. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** The user pressed Ctrl-C (or the process got SIGTERM): exit code 130. */
export class InterruptedError extends CliError {
  override readonly name = "InterruptedError";
  constructor(message = "interrupted") {
    super(message, ExitCode.interrupted);
  }
}
