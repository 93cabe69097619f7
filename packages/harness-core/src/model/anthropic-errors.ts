import Anthropic from "@anthropic-ai/sdk";

/** One failed HTTP attempt, classified for the retry policy. */
export class ModelAttemptError extends Error {
  override readonly name = "ModelAttemptError";
  constructor(
    message: string,
    readonly kind: string,
    readonly retryable: boolean,
    /** From retry-after / retry-after-ms, when the server said. */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Maps whatever the SDK threw to one attempt error: the single place where
 * Anthropic's error vocabulary becomes ours. Retryable: 408, 409, 429, 5xx,
 * 529 overloaded, an `error` event mid-stream of a transient type, and any
 * connection failure (refused, reset, a stream cut short).
 */
export function classifyAnthropicError(err: unknown): ModelAttemptError {
  if (err instanceof ModelAttemptError) return err;
  if (err instanceof Anthropic.APIConnectionError) {
    const timeout = err instanceof Anthropic.APIConnectionTimeoutError;
    return new ModelAttemptError(
      `${timeout ? "model request timed out" : "cannot reach the model API"}: ${describe(err)}`,
      timeout ? "timeout" : "connection",
      true,
      undefined,
      { cause: err },
    );
  }
  if (err instanceof Anthropic.APIError) {
    const status = err.status;
    const type = err.type ?? "";
    const detail = err.apiMessage ?? err.message;
    const retryAfterMs = retryAfterOf(err.headers);
    const make = (kind: string, retryable: boolean) =>
      new ModelAttemptError(
        `model API ${status ?? "stream"} ${type || kind}: ${detail}`,
        kind,
        retryable,
        retryAfterMs,
        {
          cause: err,
        },
      );
    if (status === 429 || type === "rate_limit_error") return make("rate_limited", true);
    if (status === 529 || type === "overloaded_error") return make("overloaded", true);
    if (status === 408 || status === 409) return make("transient", true);
    if (status !== undefined && status >= 500) return make("server_error", true);
    if (status === undefined) return make(type === "api_error" ? "server_error" : type || "stream_error", true);
    if (status === 400 || type === "invalid_request_error") return make("invalid_request", false);
    if (status === 401 || status === 403) return make("unauthorized", false);
    if (status === 404) return make("not_found", false);
    if (status === 413) return make("request_too_large", false);
    return make("client_error", false);
  }
  // The SDK refuses to send a request it cannot authenticate: no retry helps.
  if (err instanceof Anthropic.AnthropicError && /authentication/i.test(err.message)) {
    return new ModelAttemptError(`model API credentials: ${describe(err)}`, "unauthorized", false, undefined, {
      cause: err,
    });
  }
  // Raw failures of the response body (e.g. undici's "terminated") mean the
  // connection broke mid-stream: the request can simply be made again.
  return new ModelAttemptError(`model response stream broke: ${describe(err)}`, "stream_cut", true, undefined, {
    cause: err,
  });
}

function retryAfterOf(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}
