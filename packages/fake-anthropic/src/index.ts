/**
 * @reins/fake-anthropic: a fake Anthropic Messages API for the real SDK to talk to.
 *
 * `startFakeAnthropic` serves `POST /v1/messages` on real HTTP with real SSE; a script
 * (`scriptTurns`, or any function of the request) decides each answer: text, thinking,
 * tool_use blocks, usage with prompt caching, a turn held mid-stream, or a fault (429,
 * 529, 500, a dropped stream). It rejects a conversation the real API would reject
 * (`validateMessagesRequest`: a tool_use without its tool_result is a 400) and records
 * every request for assertions (`toolPairingProblems`).
 *
 * It depends on nothing but Node, so the CLI's scripted model can run it in production
 * without pulling in the test launchers of @reins/testkit.
 */
export { toolPairingProblems } from "./assert.js";
export { inputTokensOf, isSummaryRequest, promptTooLong, summaryTurn } from "./context.js";
export type { ReceivedToolResult } from "./script.js";
export { assistantTurns, lastToolResults, lastUserText, scriptTurns } from "./script.js";
export type { FakeAnthropic, FakeAnthropicOptions } from "./server.js";
export { startFakeAnthropic } from "./server.js";
export type { SseEvent } from "./sse.js";
export { encodeTurn, formatSse } from "./sse.js";
export type {
  CapturedRequest,
  FakeBlock,
  FakeFault,
  FakeReply,
  FakeScript,
  FakeStopReason,
  FakeTurn,
  FakeUsage,
  MessagesRequestBody,
} from "./types.js";
export { estimateTokens } from "./usage.js";
export { validateMessagesRequest } from "./validate.js";
