import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { assistantTurns, type FakeScript, type FakeTurn } from "@reins/fake-anthropic";
import { ExecuteResponseSchema, ExecutorService } from "@reins/proto";
import { bindService, startServer } from "@reins/service-kit";

/** Model turns per session in the overhead run: all but the last call tools. */
export const turnsPerSession = 21;

const toolTurn = (n: number, chunkDelayMs: number): FakeTurn => ({
  chunkDelayMs,
  content: [
    { type: "text", text: "Working on it." },
    ...Array.from({ length: n }, (_, k) => ({
      type: "tool_use" as const,
      name: "bash",
      input: { command: `step ${k}` },
    })),
  ],
});

/**
 * Every assistant turn but the last calls tools (alternating one and two in
 * parallel). With `chunkDelayMs`, the answer's SSE events are that far apart,
 * as a real model's are; 0 writes each answer at once.
 */
export const toolTurnsScript =
  (chunkDelayMs = 0): FakeScript =>
  (request) => {
    const n = assistantTurns(request.body);
    return n < turnsPerSession - 1
      ? toolTurn(1 + (n % 2), chunkDelayMs)
      : { content: [{ type: "text", text: "Done." }] };
  };

/** An executor that does no work: tool time is measured around its RPC and excluded anyway. */
export async function startNullExecutor() {
  return startServer({
    services: [
      bindService(ExecutorService, {
        listTools: () => ({ tools: [] }),
        execute: () => create(ExecuteResponseSchema, { output: "ok", duration: durationFromMs(0) }),
      }),
    ],
  });
}
