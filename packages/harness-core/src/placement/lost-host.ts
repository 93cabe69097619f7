/**
 * The result the model reads for a call whose sandbox host was lost: the host
 * and, with it, the session's workspace are gone, so the model decides what
 * to redo on the host the session is placed on next.
 */
export function hostLostText(executorId: string, tool: string, outcome: "not run" | "unknown", detail: string): string {
  const ran =
    outcome === "not run" ? `${tool} did not run` : `${tool} may or may not have run (its outcome is unknown)`;
  return `error: the sandbox host ${executorId} and its workspace were lost (${detail}); ${ran}. The session continues on another sandbox host with a fresh workspace: files written earlier are gone.`;
}

/** The result for a call no live executor could take. */
export function noHostText(tool: string, why: string): string {
  return `error: no sandbox host is available for this session (${why}), so ${tool} did not run`;
}
