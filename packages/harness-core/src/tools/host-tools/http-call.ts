import type { ValidateFunction } from "ajv";
import { ToolAbortedError } from "../../errors.js";
import type { ToolOutcome } from "../executor-pool.js";
import type { HostToolSpec } from "./config.js";
import { createScrubber } from "./redact.js";
import { refusal, requestParts } from "./request-url.js";

const maxRedirects = 5;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** Raised inside a call for a failure the model should read; never carries the secret. */
class CallFailure extends Error {}

/**
 * Runs one call of a host tool: validates the input against the tool's schema,
 * builds the request, checks its origin (and that of every redirect) against
 * the allow-list before anything is sent, adds the secret header when the
 * request goes to the secret's own origin, and reads at most
 * `maxResponseBytes` within `timeoutMs`. Every failure becomes an error result
 * the model reads; the secret is scrubbed from whatever comes back (a server
 * may echo what it was sent, with or without its prefix). Throws only
 * ToolAbortedError, when the caller's signal stops the call.
 */
export async function callHostTool(
  spec: HostToolSpec,
  validate: ValidateFunction,
  inputJson: string,
  signal?: AbortSignal,
): Promise<ToolOutcome> {
  const started = performance.now();
  const credential = spec.credential;
  const scrub = createScrubber(credential ? [credential.value(), credential.secret()] : []);
  // Scrubbed before the marker goes on, so a secret cut by the cap is dropped as well.
  const outcome = (output: string, isError: boolean, truncated = false): ToolOutcome => ({
    output: truncated
      ? `${scrub(output, true)}\n[response truncated at ${spec.maxResponseBytes} bytes]`
      : scrub(output),
    isError,
    exitCode: isError ? 1 : 0,
    durationMs: performance.now() - started,
    truncated,
  });
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const input = parseInput(spec, validate, inputJson);
    const parts = requestParts(spec.method, spec.url, input);
    let url = toUrl(spec, parts.url);
    for (const [name, value] of parts.query) url.searchParams.append(name, value);
    let method: string = spec.method;
    let body = parts.body === undefined ? undefined : JSON.stringify(parts.body);
    for (let hop = 0; ; hop++) {
      const refused = refusal(url, new Set(spec.allowedOrigins));
      if (refused) {
        throw new CallFailure(
          hop === 0
            ? `error: ${spec.name} may not call ${url.origin}: ${refused}; nothing was sent`
            : `error: ${spec.name} was redirected to ${url.origin}, which it may not call: ${refused}; the redirect was not followed`,
        );
      }
      const headers: Record<string, string> = { accept: "application/json, text/plain;q=0.9, */*;q=0.5" };
      if (body !== undefined) headers["content-type"] = "application/json";
      // Only to the secret's own origin: another allowed origin, reached by the
      // input or by a redirect, gets the request without it (as fetch does with
      // authorization on a cross-origin redirect).
      if (credential && url.origin === credential.origin) headers[credential.header] = credential.value();
      const response = await fetch(url, { method, headers, body, redirect: "manual", signal: combined });
      const location = response.headers.get("location");
      if (!redirectStatuses.has(response.status) || location === null) {
        const { text, truncated } = await readCapped(response, spec.maxResponseBytes);
        if (response.ok) return outcome(text, false, truncated);
        const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
        return outcome(
          `error: ${spec.name} got ${status} from ${url.origin}${text ? `:\n${text}` : ""}`,
          true,
          truncated,
        );
      }
      await response.body?.cancel();
      if (hop + 1 > maxRedirects)
        throw new CallFailure(`error: ${spec.name} was redirected more than ${maxRedirects} times`);
      url = toUrl(spec, location, url);
      // As browsers do: 303 (and 301/302 after a POST) turn the request into a GET without a body.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw new ToolAbortedError(`host tool call ${spec.name} cancelled`);
    if (err instanceof CallFailure) return outcome(err.message, true);
    if (timeout.aborted) {
      return outcome(`error: ${spec.name} timed out after ${spec.timeoutMs} ms; its outcome is unknown`, true);
    }
    return outcome(`error: ${spec.name} failed: ${describeFetchError(err)}`, true);
  }
}

function parseInput(spec: HostToolSpec, validate: ValidateFunction, inputJson: string): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(inputJson || "{}");
  } catch {
    throw new CallFailure(`error: the input to ${spec.name} is not valid JSON`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new CallFailure(`error: the input to ${spec.name} must be a JSON object`);
  }
  if (!validate(input)) {
    const detail = (validate.errors ?? [])
      .map((e) => `input${e.instancePath.replaceAll("/", ".")}: ${e.message ?? "is invalid"}`)
      .join("\n");
    throw new CallFailure(
      `error: the input does not match the schema of tool ${spec.name}; nothing was sent:\n${detail}`,
    );
  }
  return input as Record<string, unknown>;
}

function toUrl(spec: HostToolSpec, text: string, base?: URL): URL {
  try {
    return new URL(text, base);
  } catch {
    throw new CallFailure(`error: ${spec.name} built a URL that does not parse; nothing was sent`);
  }
}

/** The body as text, cut at `cap` bytes (the caller adds the visible marker). */
async function readCapped(response: Response, cap: number): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: "", truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > cap) {
      chunks.push(value.subarray(0, cap - size));
      size = cap;
      truncated = true;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), truncated };
}

// fetch's own message is "fetch failed"; the cause says what happened (ECONNREFUSED ...).
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}
