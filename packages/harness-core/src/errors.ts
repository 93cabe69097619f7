import { Code, ConnectError } from "@connectrpc/connect";
import type { ModelRequestStats } from "./model/index.js";

/**
 * This process no longer owns the session: another writer moved the log on
 * (or deleted the session), or the work-queue lease ran out and another
 * replica may hold it. The run stops touching the session: it was a zombie.
 */
export class OwnershipLostError extends Error {
  override readonly name = "OwnershipLostError";
}

/**
 * The session's log reached its size limit: nothing more fits, so the run
 * cannot go on. The writer recorded the session as terminated (stop reason
 * error, with a `session.error` saying why) if the service still took that.
 */
export class SessionLogFullError extends Error {
  override readonly name = "SessionLogFullError";
}

/** A model request failed for good (after any retries). */
export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    message: string,
    /** Stable machine-readable kind, e.g. "rate_limited", "overloaded", "invalid_request". */
    readonly kind: string,
    /** True when trying again later may succeed. */
    readonly retryable: boolean,
    readonly stats: ModelRequestStats,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The view cannot be made to fit the model's context window (or context
 * management is off and the API refused the request as too long): the run ends
 * with `session.error` kind `context_overflow`. `stats` is a failed summary
 * request still to be recorded.
 */
export class ContextOverflowError extends Error {
  override readonly name = "ContextOverflowError";
  constructor(
    message: string,
    readonly stats?: ModelRequestStats,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The model request was aborted by its caller. */
export class ModelAbortedError extends Error {
  override readonly name = "ModelAbortedError";
}

/** The tool call was cancelled by its caller (interrupt, wall time, shutdown). */
export class ToolAbortedError extends Error {
  override readonly name = "ToolAbortedError";
}

/** The host tools document is not valid; the message says where and why. */
export class HostToolsConfigError extends Error {
  override readonly name = "HostToolsConfigError";
}

/** The MCP servers document is not valid; the message says where and why. */
export class McpServersConfigError extends Error {
  override readonly name = "McpServersConfigError";
}

/**
 * The one place where harness errors become wire errors. Errors of the session
 * or executor services are already ConnectErrors and keep their code.
 */
export function harnessErrorToConnect(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof OwnershipLostError) return new ConnectError(err.message, Code.Aborted, undefined, undefined, err);
  if (err instanceof SessionLogFullError) {
    return new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
  }
  if (err instanceof ModelError) {
    return new ConnectError(
      err.message,
      err.retryable ? Code.Unavailable : Code.FailedPrecondition,
      undefined,
      undefined,
      err,
    );
  }
  return ConnectError.from(err, Code.Internal);
}
