/** A content block the fake model answers with. */
export type FakeBlock =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature?: string }
  | {
      readonly type: "tool_use";
      readonly name: string;
      readonly input: Readonly<Record<string, unknown>>;
      /** Default: derived from the conversation, so the same conversation gets the same id. */
      readonly id?: string;
    };

export type FakeStopReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal" | "pause_turn";

/** Token usage as the Messages API reports it. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** One streamed model answer. */
export interface FakeTurn {
  readonly content: readonly FakeBlock[];
  /** Default: "tool_use" when a tool_use block is present, else "end_turn". */
  readonly stopReason?: FakeStopReason;
  /** Overrides the estimated usage. */
  readonly usage?: Partial<FakeUsage>;
  /** Pause between SSE events (default 0: the whole answer is written at once). */
  readonly chunkDelayMs?: number;
  /** When set, the stream stops after the first content delta until this settles
   * (or the client goes away), so a test can act while a response is in flight.
   * A function is called once that delta is written: a test acts exactly mid-stream. */
  readonly hold?: Promise<unknown> | (() => Promise<unknown>);
}

/** An injected failure instead of an answer. */
export type FakeFault =
  /** 429 rate_limit_error with a retry-after header (seconds, default 0). */
  | { readonly fault: "rate_limit"; readonly retryAfterSeconds?: number }
  /** 529 overloaded_error. */
  | { readonly fault: "overloaded" }
  /** 500 api_error. */
  | { readonly fault: "server_error" }
  /** A 200 stream whose socket is destroyed after `afterEvents` SSE events (default 3). */
  | { readonly fault: "drop"; readonly afterEvents?: number }
  /**
   * Any error answer the API gives: e.g. 400 "prompt is too long", 401 with a
   * bad key, 404 for an unknown model, 529. The error type defaults to the
   * API's for the status; `shouldRetry` sends `x-should-retry` (omitted: none).
   */
  | {
      readonly fault: "status";
      readonly status: number;
      readonly type?: string;
      readonly message?: string;
      readonly shouldRetry?: boolean;
    };

export type FakeReply = FakeTurn | FakeFault;

/** The JSON body of a Messages API request, loosely typed. */
export interface MessagesRequestBody {
  model?: unknown;
  max_tokens?: unknown;
  system?: unknown;
  messages?: unknown;
  tools?: unknown;
  stream?: unknown;
  [key: string]: unknown;
}

/** What the fake server saw and did for one HTTP request. */
export interface CapturedRequest {
  /** 0-based order of arrival at the server. */
  readonly index: number;
  /** `performance.now()` when the request body was complete. */
  readonly receivedAt: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body (undefined when it was not JSON). */
  readonly body: MessagesRequestBody | undefined;
  /** HTTP status answered. */
  status: number;
  /** The fault injected, the validation error, or "ok". */
  outcome: string;
}

/** Decides the reply to a request; may be async so a scripted model can wait. */
export type FakeScript = (request: CapturedRequest) => FakeReply | Promise<FakeReply>;

export function isFault(reply: FakeReply): reply is FakeFault {
  return "fault" in reply;
}
