import { Code, ConnectError } from "@connectrpc/connect";
import { FencedError, LogFullError } from "./log/session-log.js";
import { ModelError } from "./model/model.js";

/**
 * The one place where harness errors become wire errors. Errors of the session
 * or executor services are already ConnectErrors and keep their code.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof FencedError) return new ConnectError(err.message, Code.Aborted, undefined, undefined, err);
  if (err instanceof LogFullError) {
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
