import { StopReason } from "@reins/proto";
import { inSpan } from "@reins/service-kit";
import type { SessionFold } from "../log/index.js";
import { type AgentLoopDeps, type RunOutcome, runAgentLoop } from "../loop/index.js";

/**
 * Runs sessions in this process, at most one loop per session. Whatever drives
 * it (an RPC, a wake message from a work queue) calls `runSession`, which is
 * idempotent: it resumes from the log, and joins a run already in progress
 * here instead of starting a second writer.
 */
export interface SessionRunner extends AsyncDisposable {
  /**
   * Runs the session until it needs the user or ends. A call while a run is in
   * progress joins it and makes it look at the log once more before it ends,
   * so work appended meanwhile (a new message) is never left behind. `signal`
   * stops the run (it then writes nothing more), e.g. when a work-queue lease
   * is lost.
   */
  runSession(sessionId: string, signal?: AbortSignal): Promise<RunOutcome>;
  /**
   * Starts a run in the background; failures are logged, the log stays
   * resumable. `known` is the session as the caller has just written it: a new
   * run starts from it instead of reading the log. A run that ends rescheduled
   * is started again here when it is due (a work queue calls `runSession` and
   * schedules the retry itself).
   */
  kick(sessionId: string, known?: SessionFold): void;
  isRunning(sessionId: string): boolean;
  /** Stops the run here, if any (and its rescheduled retry), and resolves once it writes nothing more. */
  stop(sessionId: string): Promise<void>;
  /** Stops every run (shutdown): sessions stay resumable by Wake. */
  close(): Promise<void>;
}

interface ActiveRun {
  readonly controller: AbortController;
  again: boolean;
  promise: Promise<RunOutcome>;
}

export interface SessionRunnerOptions extends AgentLoopDeps {
  readonly onError?: (sessionId: string, err: unknown) => void;
}

export function createSessionRunner(options: SessionRunnerOptions): SessionRunner {
  const active = new Map<string, ActiveRun>();
  // Rescheduled turns waiting here for their time; each timer reads the log again when it fires.
  const due = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const runSession = (sessionId: string, signal?: AbortSignal, known?: SessionFold): Promise<RunOutcome> => {
    const existing = active.get(sessionId);
    if (existing) {
      existing.again = true;
      return existing.promise;
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const entry: ActiveRun = { controller, again: false, promise: Promise.resolve({ kind: "stopped" }) };
    // One span per run, a child of whatever started it (the RPC, or the wake's
    // trace context): the model requests and tool calls of the run are its children.
    entry.promise = inSpan(
      "@reins/harness-core",
      "session.run",
      { attributes: { "reins.session.id": sessionId } },
      async (span) => {
        options.metrics?.runStarted();
        let ended = "failed";
        try {
          let outcome: RunOutcome;
          let fold = known;
          do {
            entry.again = false;
            outcome = await runAgentLoop(options, sessionId, controller.signal, fold);
            fold = undefined;
          } while (entry.again && outcome.kind !== "stopped" && outcome.kind !== "fenced");
          span.setAttribute("reins.run.outcome", describeOutcome(outcome));
          options.log?.info({ sessionId, outcome: describeOutcome(outcome) }, "run ended");
          ended = outcome.kind;
          return outcome;
        } finally {
          options.metrics?.runEnded(ended);
          active.delete(sessionId);
          signal?.removeEventListener("abort", onAbort);
        }
      },
    );
    active.set(sessionId, entry);
    return entry.promise;
  };

  const kick = (sessionId: string, known?: SessionFold) => {
    clearTimeout(due.get(sessionId));
    due.delete(sessionId);
    runSession(sessionId, undefined, known).then(
      (outcome) => {
        if (outcome.kind !== "rescheduled" || closed) return;
        clearTimeout(due.get(sessionId));
        const timer = setTimeout(() => kick(sessionId), Math.max(0, outcome.retryAt - Date.now()));
        due.set(sessionId, timer);
      },
      (err: unknown) => options.onError?.(sessionId, err),
    );
  };

  const stop = async (sessionId: string) => {
    clearTimeout(due.get(sessionId));
    due.delete(sessionId);
    const entry = active.get(sessionId);
    if (!entry) return;
    entry.controller.abort();
    await entry.promise.catch(() => undefined);
  };
  const close = async () => {
    closed = true;
    for (const timer of due.values()) clearTimeout(timer);
    due.clear();
    await Promise.all([...active.keys()].map(stop));
  };

  return {
    runSession: (sessionId, signal) => runSession(sessionId, signal),
    kick,
    isRunning: (sessionId) => active.has(sessionId),
    stop,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function describeOutcome(outcome: RunOutcome): string {
  if (outcome.kind === "idle" || outcome.kind === "terminated") {
    return `${outcome.kind} (${StopReason[outcome.stopReason].toLowerCase()})`;
  }
  if (outcome.kind === "rescheduled") return `rescheduled (due ${new Date(outcome.retryAt).toISOString()})`;
  return outcome.kind;
}
