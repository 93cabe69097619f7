import { Code, ConnectError } from "@connectrpc/connect";
import { CliError, ExitCode } from "./cli-error.js";

/** Snake-case gRPC code names, as grpcurl and the gRPC docs print them. */
function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

// Node's connection errors arrive wrapped in ConnectError(Unavailable); the
// original errno says what actually happened, which is what the user can act on.
function hintFor(err: ConnectError): string | undefined {
  const cause = err.cause as { code?: unknown; address?: unknown; port?: unknown } | undefined;
  if (cause?.code === "ECONNREFUSED") {
    const where = cause.port !== undefined ? `${String(cause.address)}:${String(cause.port)}` : "the service";
    return `nothing is listening on ${where}; start the stack with \`reins up\` or pass the right --*-url`;
  }
  if (err.code === Code.Unauthenticated) return "pass a token with --token or REINS_TOKEN";
  return undefined;
}

/**
 * One line describing an error for the terminal: "CODE: message" for RPC
 * errors, the message for expected CLI errors, and the message (no stack) for
 * anything else.
 */
export function describeError(err: unknown): string {
  if (err instanceof ConnectError) {
    const hint = hintFor(err);
    const line = `${codeName(err.code)}: ${err.rawMessage}`;
    return hint ? `${line} (${hint})` : line;
  }
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.name;
  return String(err);
}

/** The exit code for an error that ended a command. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConnectError && err.code === Code.Canceled) return ExitCode.interrupted;
  return ExitCode.failure;
}

/** Errors we expect in normal use print one line; anything else is a bug and keeps its stack under REINS_DEBUG. */
export function isExpected(err: unknown): boolean {
  return err instanceof CliError || err instanceof ConnectError;
}
