import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type HarnessService, RunState, type Session, type SessionService, StopReason } from "@reins/proto";
import { CliError, ExitCode, InterruptedError } from "./cli-error.js";
import type { CliContext } from "./context.js";
import { describeError } from "./error-line.js";
import { onInterrupt } from "./interrupts.js";
import { deltaJson, eventJson, sessionJson } from "./render/json-lines.js";
import { createRunOrder, type RunItem } from "./render/run-order.js";
import { createRunView, type RunView } from "./render/run-view.js";

export type { RunItem };

export interface WatchOptions {
  readonly sessionId: string;
  readonly json: boolean;
  readonly outputLines: number;
  readonly harness: Client<typeof HarnessService>;
  readonly session: Client<typeof SessionService>;
  /** Opens the run's stream; it ends when the run is idle or terminated. */
  readonly open: (signal: AbortSignal) => AsyncIterable<RunItem>;
  /** Ctrl-C interrupts the session (run, send) or only stops watching (watch). */
  readonly onCtrlC: "interrupt" | "leave";
}

/**
 * Shows a run until it settles: live view or NDJSON, Ctrl-C interrupts the
 * session (a second one stops waiting), then usage and cost from GetSession.
 * Returns the exit code.
 */
export async function watchRun(ctx: CliContext, options: WatchOptions): Promise<number> {
  const { sessionId, json } = options;
  const view: RunView | undefined = json
    ? undefined
    : createRunView(ctx.terminal, { outputLines: options.outputLines });
  const started = Date.now();
  const abort = new AbortController();
  let interrupted = false;
  const removeHandlers = onInterrupt(
    () => {
      if (options.onCtrlC === "leave") {
        abort.abort();
        return;
      }
      interrupted = true;
      view?.notice("interrupting… (Ctrl-C again to stop waiting)");
      options.harness.interrupt({ sessionId, reason: "Ctrl-C in reins" }).catch((err: unknown) => {
        view?.notice(`interrupt failed: ${describeError(err)}`);
        abort.abort();
      });
    },
    () => abort.abort(),
  );

  let state = RunState.UNSPECIFIED;
  let stopReason = StopReason.UNSPECIFIED;
  const order = createRunOrder(
    (item) => {
      if (item.case === "delta") {
        if (json) ctx.terminal.print(deltaJson(item.value));
        else view?.delta(item.value);
        return;
      }
      const event = item.value;
      if (event.payload.case === "sessionStatus") {
        state = event.payload.value.state;
        stopReason = event.payload.value.stopReason;
      }
      if (json) ctx.terminal.print(eventJson(event));
      else view?.event(event);
    },
    { keepLate: json },
  );
  try {
    for await (const item of options.open(abort.signal)) order.push(item);
    order.end();
    // A stream that ended because we left is an interruption, not a settled run.
    if (abort.signal.aborted) throw new Error("aborted");
  } catch (err) {
    view?.close();
    if (abort.signal.aborted) {
      throw new InterruptedError(
        options.onCtrlC === "leave"
          ? `stopped watching; the session goes on (reins events ${sessionId} -f)`
          : `stopped waiting; session ${sessionId} may still be running`,
      );
    }
    // Once the session exists, a broken stream does not lose it: say how to go on.
    if (err instanceof ConnectError && err.code !== Code.InvalidArgument && state !== RunState.UNSPECIFIED) {
      throw new CliError(
        `${describeError(err)}; the session is in the log: \`reins wake ${sessionId}\` resumes it`,
        ExitCode.failure,
        { cause: err },
      );
    }
    throw err;
  } finally {
    removeHandlers();
  }

  const summary: Session | undefined = await options.session
    .getSession({ sessionId }, { timeoutMs: 5_000 })
    .then((r) => r.session)
    .catch((err: unknown) => {
      view?.notice(`could not read the session's usage: ${describeError(err)}`);
      return undefined;
    });
  if (json) {
    if (summary) ctx.terminal.print(sessionJson(summary));
  } else {
    view?.finish({ sessionId, state, stopReason, session: summary, elapsedMs: Date.now() - started });
  }
  return exitCodeFor(state, stopReason, interrupted);
}

/** 0 when the agent finished its turn, 130 when interrupted, 1 for errors and limits. */
export function exitCodeFor(state: RunState, reason: StopReason, interrupted: boolean): number {
  if (reason === StopReason.INTERRUPTED || interrupted) return ExitCode.interrupted;
  if (state === RunState.UNSPECIFIED || state === RunState.RUNNING || state === RunState.RESCHEDULING) {
    return ExitCode.failure;
  }
  switch (reason) {
    case StopReason.ERROR:
    case StopReason.RETRIES_EXHAUSTED:
    case StopReason.MAX_TURNS:
    case StopReason.BUDGET_REACHED:
    case StopReason.REFUSAL:
      return ExitCode.failure;
    default:
      return state === RunState.TERMINATED && reason === StopReason.UNSPECIFIED ? ExitCode.failure : ExitCode.ok;
  }
}
