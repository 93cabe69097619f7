import { createHash } from "node:crypto";
import { EventEmitter, once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { inputTokensOf, isSummaryRequest, promptTooLong, summaryTurn } from "./context.js";
import { encodeTurn, formatSse, type SseEvent } from "./sse.js";
import {
  type CapturedRequest,
  type FakeFault,
  type FakeScript,
  type FakeTurn,
  isFault,
  type MessagesRequestBody,
} from "./types.js";
import { createPromptCache } from "./usage.js";
import { validateMessagesRequest } from "./validate.js";

export interface FakeAnthropicOptions {
  /** Decides each answer; see `scriptTurns`. */
  script: FakeScript;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** When set, requests must carry it as x-api-key (or a bearer token). */
  apiKey?: string;
  /**
   * The model's context window in input tokens (see `inputTokensOf`): a request
   * over it gets the API's 400 invalid_request_error "prompt is too long: N
   * tokens > M maximum". Default: no limit.
   */
  contextWindowTokens?: number;
  /** Whether `POST /v1/messages/count_tokens` answers (else 404, as an endpoint without it). Default true. */
  countTokens?: boolean;
  /**
   * Whether a request asking to summarise the conversation (see
   * `isSummaryRequest`) is answered with a summary (`summaryTurn`) before the
   * script is asked. Default true.
   */
  summaries?: boolean;
}

/**
 * A fake Anthropic Messages API on real HTTP: `POST /v1/messages` answers with
 * the same server-sent events as the real API (or a JSON message without
 * `stream`), rejects invalid conversations with 400 as the real API does, can
 * inject 429 / 529 / 500 / a dropped connection, and records every request.
 * Point `ANTHROPIC_BASE_URL` (or the SDK's `baseURL`) at `url`.
 */
export interface FakeAnthropic extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Every request received, in order of arrival. */
  readonly requests: readonly CapturedRequest[];
  /** Requests that reached the script (not faults, not rejected). */
  answered(): CapturedRequest[];
  /** The next `times` requests fail with `fault` before the script is asked. */
  failNext(fault: FakeFault, times?: number): void;
  setScript(script: FakeScript): void;
  /** Changes the context window (undefined: no limit) for the requests that follow. */
  setContextWindow(tokens: number | undefined): void;
  /** Resolves once at least `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<CapturedRequest[]>;
  close(): Promise<void>;
}

const errorTypes = {
  rate_limit: {
    status: 429,
    type: "rate_limit_error",
    message: "Number of request tokens has exceeded your rate limit.",
  },
  overloaded: { status: 529, type: "overloaded_error", message: "Overloaded" },
  server_error: { status: 500, type: "api_error", message: "Internal server error" },
} as const;

// The Messages API's error type for each status it answers with.
const typeOfStatus: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export async function startFakeAnthropic(options: FakeAnthropicOptions): Promise<FakeAnthropic> {
  let script = options.script;
  const requests: CapturedRequest[] = [];
  const faults: FakeFault[] = [];
  const cache = createPromptCache();
  const arrivals = new EventEmitter();
  arrivals.setMaxListeners(0);
  let messageCounter = 0;
  let contextWindow = options.contextWindowTokens;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, "api_error", String(err));
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: MessagesRequestBody | undefined;
    try {
      body = JSON.parse(text) as MessagesRequestBody;
    } catch {
      body = undefined;
    }
    const captured: CapturedRequest = {
      index: requests.length,
      receivedAt: performance.now(),
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body,
      status: 0,
      outcome: "",
    };
    requests.push(captured);
    arrivals.emit("request");
    res.setHeader("request-id", `req_fake_${captured.index}`);

    const answer = (status: number, outcome: string) => {
      captured.status = status;
      captured.outcome = outcome;
    };
    const path = (req.url ?? "").split("?")[0] ?? "";
    const counting = path.endsWith("/v1/messages/count_tokens") && options.countTokens !== false;
    if (req.method !== "POST" || !(path.endsWith("/v1/messages") || counting)) {
      answer(404, "not_found");
      return sendError(res, 404, "not_found_error", `${req.method} ${req.url} not found`);
    }
    if (!authorized(req, options.apiKey)) {
      answer(401, "unauthenticated");
      return sendError(res, 401, "authentication_error", "invalid x-api-key");
    }
    // count_tokens takes a request without max_tokens.
    const invalid = validateMessagesRequest(counting && body ? { max_tokens: 1, ...body } : body);
    if (invalid !== undefined || body === undefined) {
      answer(400, `invalid_request: ${invalid}`);
      return sendError(res, 400, "invalid_request_error", invalid ?? "invalid body");
    }
    const tokens = inputTokensOf(body);
    if (counting) {
      answer(200, "count_tokens");
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ input_tokens: tokens }));
    }
    if (contextWindow !== undefined && tokens > contextWindow) {
      answer(400, "prompt_too_long");
      return sendError(res, 400, "invalid_request_error", promptTooLong(tokens, contextWindow));
    }
    const queued = faults.shift();
    const summarising = queued === undefined && options.summaries !== false && isSummaryRequest(body);
    const reply = queued ?? (summarising ? summaryTurn(body) : await script(captured));
    if (isFault(reply) && reply.fault === "status") {
      answer(reply.status, `status ${reply.status}`);
      if (reply.shouldRetry !== undefined) res.setHeader("x-should-retry", String(reply.shouldRetry));
      const type =
        reply.type ?? typeOfStatus[reply.status] ?? (reply.status >= 500 ? "api_error" : "invalid_request_error");
      return sendError(res, reply.status, type, reply.message ?? `scripted ${reply.status} ${type}`);
    }
    if (isFault(reply)) {
      answer(reply.fault === "drop" ? 200 : errorTypes[reply.fault].status, reply.fault);
      if (reply.fault === "drop") return streamTurn(res, body, { content: [] }, reply.afterEvents ?? 3);
      if (reply.fault === "rate_limit") res.setHeader("retry-after", String(reply.retryAfterSeconds ?? 0));
      if (reply.fault === "overloaded") res.setHeader("x-should-retry", "true");
      const e = errorTypes[reply.fault];
      return sendError(res, e.status, e.type, e.message);
    }
    answer(200, "ok");
    if (body.stream === true) return streamTurn(res, body, reply);
    const events = encode(body, reply);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(assemble(events)));
  }

  function encode(body: MessagesRequestBody, turn: FakeTurn): SseEvent[] {
    messageCounter++;
    const conversation = JSON.stringify(body.messages);
    return encodeTurn(turn, {
      model: String(body.model),
      messageId: `msg_fake_${messageCounter}`,
      usage: cache.usageFor(body, turn),
      toolUseId: (index) =>
        `toolu_${createHash("sha256").update(`${conversation}#${index}`).digest("hex").slice(0, 24)}`,
    });
  }

  async function streamTurn(
    res: http.ServerResponse,
    body: MessagesRequestBody,
    turn: FakeTurn,
    dropAfter?: number,
  ): Promise<void> {
    const events = encode(body, dropAfter === undefined ? turn : placeholderTurn);
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    const gone = new Promise<void>((resolve) => res.once("close", () => resolve()));
    let deltas = 0;
    for (const [n, event] of events.entries()) {
      if (res.destroyed) return;
      if (dropAfter !== undefined && n >= dropAfter) {
        // Destroying the socket mid-body is what a network failure looks like to
        // fetch; what was written first must reach the client, so wait for it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        res.socket?.destroy();
        return;
      }
      res.write(formatSse(event));
      if (event.event === "content_block_delta" && deltas++ === 0 && turn.hold) {
        await Promise.race([typeof turn.hold === "function" ? turn.hold() : turn.hold, gone]);
      }
      if (turn.chunkDelayMs) await Promise.race([sleep(turn.chunkDelayMs), gone]);
    }
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    port,
    requests,
    answered: () => requests.filter((r) => r.outcome === "ok"),
    failNext(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    setScript(next) {
      script = next;
    },
    setContextWindow(tokens) {
      contextWindow = tokens;
    },
    async waitForRequests(count, timeoutMs = 15_000) {
      const signal = AbortSignal.timeout(timeoutMs);
      while (requests.length < count) {
        try {
          await once(arrivals, "request", { signal });
        } catch {
          throw new Error(`fake Anthropic got ${requests.length} of ${count} requests within ${timeoutMs} ms`);
        }
      }
      return requests.slice(0, count);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

// A dropped stream still starts like a real answer, so the client is mid-parse.
const placeholderTurn: FakeTurn = { content: [{ type: "text", text: "This answer will be cut off before it ends." }] };

function authorized(req: http.IncomingMessage, apiKey: string | undefined): boolean {
  const given = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer\s+/i, "");
  if (given === undefined || given === "") return false;
  return apiKey === undefined || given === apiKey;
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  const requestId = res.getHeader("request-id");
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ type: "error", error: { type, message }, request_id: requestId }));
}

// The non-streaming answer is the streamed one, assembled.
function assemble(events: SseEvent[]): Record<string, unknown> {
  const start = events[0]?.data.message as Record<string, unknown>;
  const content: Array<Record<string, unknown>> = [];
  const json: string[] = [];
  let stop: unknown = null;
  let usage: unknown = start.usage;
  for (const { data } of events) {
    if (data.type === "content_block_start") {
      content.push({ ...(data.content_block as Record<string, unknown>) });
      json.push("");
    }
    if (data.type === "content_block_delta") {
      const i = data.index as number;
      const d = data.delta as Record<string, string>;
      const block = content[i] as Record<string, unknown>;
      if (d.type === "text_delta") block.text = `${block.text}${d.text}`;
      if (d.type === "thinking_delta") block.thinking = `${block.thinking}${d.thinking}`;
      if (d.type === "signature_delta") block.signature = d.signature;
      if (d.type === "input_json_delta") json[i] = `${json[i]}${d.partial_json}`;
    }
    if (data.type === "content_block_stop") {
      const i = data.index as number;
      const block = content[i] as Record<string, unknown>;
      if (block.type === "tool_use") block.input = JSON.parse(json[i] || "{}");
    }
    if (data.type === "message_delta") {
      stop = (data.delta as Record<string, unknown>).stop_reason;
      usage = data.usage;
    }
  }
  return { ...start, content, stop_reason: stop, usage };
}
