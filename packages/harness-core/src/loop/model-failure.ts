import { RunState, StopReason } from "@reins/proto";
import type { ModelError } from "../errors.js";
import type { SessionLog } from "../log/index.js";
import { modelSpan, reschedulingStatus, sessionError, sessionStatus } from "../log/index.js";
import type { RunOutcome } from "./agent-loop.js";
import type { ReschedulePolicy } from "./reschedule.js";

export interface ModelFailureLogger {
  warn(obj: object, msg?: string): void;
}

/**
 * Records a model request that failed for good (after the adapter's retries)
 * and how the run ends. Either way it ends: asking again at once would fail the
 * same way, and a run that asked again on every wake would hammer the API for
 * as long as the session lived.
 *
 * - The model refused the request (400, 401, 403, 404, ...): idle with stop
 *   reason error; only new input (a message, a client's Wake) tries again.
 * - It was unavailable (429, 5xx, 529, no connection): a `rescheduling` status
 *   that says when the turn is due, at growing intervals, and once the policy's
 *   attempts are spent, idle with stop reason retries_exhausted.
 */
export async function recordModelFailure(
  log: SessionLog,
  err: ModelError,
  reschedule: ReschedulePolicy,
  logger?: ModelFailureLogger,
): Promise<RunOutcome> {
  const attempt = log.fold.reschedules + 1;
  const delay = err.retryable ? reschedule.delayMs(attempt) : undefined;
  logger?.warn(
    {
      sessionId: log.fold.sessionId,
      kind: err.kind,
      err: err.message,
      ...(delay === undefined ? {} : { retryInMs: delay, attempt }),
    },
    "model request failed",
  );
  const recorded = [modelSpan(err.stats, err.message), sessionError(err.message, err.kind, err.retryable)];
  if (delay !== undefined) {
    const retryAt = Date.now() + delay;
    const detail = `retrying at ${new Date(retryAt).toISOString()} (attempt ${attempt} of ${reschedule.attempts}): ${err.message}`;
    await log.append(...recorded, reschedulingStatus(retryAt, attempt, detail));
    return { kind: "rescheduled", retryAt };
  }
  const reason = err.retryable ? StopReason.RETRIES_EXHAUSTED : StopReason.ERROR;
  const detail = err.retryable
    ? `the model stayed unavailable through ${reschedule.attempts} rescheduled attempts: ${err.message}`
    : err.message;
  await log.append(...recorded, sessionStatus(RunState.IDLE, reason, detail));
  return { kind: "idle", stopReason: reason };
}
