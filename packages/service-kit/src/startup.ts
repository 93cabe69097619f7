import type { Logger } from "./logger.js";

/**
 * How every daemon fails to start: one fatal JSON line that says what was
 * wrong, then an exit code a supervisor can act on. 2: the configuration is
 * invalid, and starting again will not help until it is fixed. 1: starting
 * failed (a port taken, a store that does not answer), which a retry may cure.
 */
export const startupExitCodes = { invalidConfiguration: 2, startFailed: 1 } as const;

/** Loads the configuration, or logs `invalid configuration: <why>` and exits 2. */
export async function loadConfigOrExit<T>(log: Logger, load: () => T | Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    log.fatal(`invalid configuration: ${messageOf(err)}`);
    process.exit(startupExitCodes.invalidConfiguration);
  }
}

/** Runs a start-up step, or logs `cannot start: <why>` and exits 1. */
export async function startOrExit<T>(log: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    log.fatal({ err }, `cannot start: ${messageOf(err)}`);
    process.exit(startupExitCodes.startFailed);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
