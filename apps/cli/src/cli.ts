import { CommanderError } from "commander";
import { CliError, ExitCode, InterruptedError } from "./cli-error.js";
import { createContext } from "./context.js";
import { createProgram } from "./program.js";
import { createTerminal } from "./terminal.js";

/** Runs the CLI on `argv` and returns the exit code; never throws. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Colour flags must be known before anything is printed, including help.
  const runEnv = { ...env };
  if (argv.includes("--no-color")) runEnv.NO_COLOR = "1";
  const terminal = createTerminal(process.stdout, process.stderr, runEnv);
  const program = createProgram(createContext(terminal, runEnv));
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return ExitCode.usage;
  }
  try {
    process.exitCode = undefined;
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; everything else commander
      // rejects is a usage error, already printed.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const { describeError, exitCodeOf, isExpected } = await import("./error-line.js");
    const c = terminal.errColors;
    // Ctrl-C is the user's choice, not a failure to report.
    if (err instanceof InterruptedError) terminal.note(c.dim(err.message));
    else terminal.note(`${c.red("error:")} ${describeError(err)}`);
    if (err instanceof CliError) for (const line of err.details) terminal.note(c.dim(`  ${line}`));
    if (!isExpected(err) && env.REINS_DEBUG && err instanceof Error && err.stack) terminal.note(c.dim(err.stack));
    return exitCodeOf(err);
  }
}
