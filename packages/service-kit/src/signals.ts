/**
 * Runs `shutdown` once on SIGTERM or SIGINT, then exits. A second signal exits at
 * once, so an operator is never stuck behind a slow drain.
 */
export function onShutdownSignal(shutdown: () => Promise<void>, log: (msg: string) => void = console.error): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: draining`);
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}
