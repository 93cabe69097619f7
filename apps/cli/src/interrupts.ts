/**
 * Ctrl-C handling for long-running commands: the first SIGINT/SIGTERM calls
 * `first` (e.g. ask the harness to interrupt the session); a second one calls
 * `second` (give up at once). Returns a function that removes the handlers.
 */
export function onInterrupt(first: () => void, second: () => void): () => void {
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) first();
    else second();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
