import { type Event, RunState, type SessionStatus, StopReason } from "@reins/proto";
import { type FakeFault, type FakeScript, isSummaryRequest } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { eventsWithin } from "./support/events-within.js";
import { startHarnessStack } from "./support/harness-stack.js";
import { lastStatus } from "./support/session-status.js";
import { talkativeScript, talkativeWindow } from "./support/talkative-script.js";

// A session that needs a summary, against a model that answers every request
// but the summary one: that fails with a 500 forever, or a 400. Either way the
// run ends clearly (a bounded series of rescheduled attempts ending
// retries_exhausted, or an error), and then nothing more happens: no request,
// no event, until new input. In both wake modes.

const config = {
  model: "claude-test",
  systemPrompt: "Be brief.",
  tools: ["sh"],
  contextPolicy: { contextWindowTokens: talkativeWindow },
};
const turns = talkativeScript(9);
const failingSummaries =
  (fault: FakeFault): FakeScript =>
  (request) =>
    isSummaryRequest(request.body) ? fault : turns(request);

const statuses = (events: readonly Event[]): SessionStatus[] =>
  events.flatMap((e) => (e.payload.case === "sessionStatus" ? [e.payload.value] : []));
const errors = (events: readonly Event[]) =>
  events.flatMap((e) => (e.payload.case === "sessionError" ? [e.payload.value] : []));

describe.each(["queue", "direct"] as const)("a summary request that fails (%s mode)", { timeout: 180_000 }, (mode) => {
  const fake = { contextWindowTokens: talkativeWindow, summaries: false };

  it("500 forever: a bounded series of rescheduled attempts, retries_exhausted, then quiet", async () => {
    await using stack = await startHarnessStack(
      failingSummaries({ fault: "server_error" }),
      {
        REINS_WAKE_MODE: mode,
        REINS_MODEL_MAX_ATTEMPTS: "1",
        REINS_MODEL_RESCHEDULES: "2",
        REINS_MODEL_RESCHEDULE_MS: "300",
        REINS_MODEL_RESCHEDULE_MAX_MS: "1000",
      },
      fake,
    );
    const { sessionId } = await stack.client().startSession({ config, message: "do all the steps" });
    const events = await stack.settled(sessionId, 0n, 120_000);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.RETRIES_EXHAUSTED]);
    const rescheduled = statuses(events).filter((s) => s.state === RunState.RESCHEDULING);
    expect(rescheduled.map((s) => s.retryAttempt)).toEqual([1, 2]);
    expect(events.filter((e) => e.payload.case === "agentContextCompacted")).toEqual([]);
    // The first attempt and one per rescheduled attempt, each a summary request refused with 500.
    const summaries = stack.fake.requests.filter((r) => isSummaryRequest(r.body));
    expect(summaries.map((r) => r.status)).toEqual([500, 500, 500]);
    // Each failed summary request is in the log as a model request of its own.
    const failedSpans = events.filter((e) => e.payload.case === "spanModelRequest" && e.payload.value.error !== "");
    expect(failedSpans).toHaveLength(3);

    const requests = stack.fake.requests.length;
    expect(await eventsWithin(stack.sessions, sessionId, events.at(-1)?.seq ?? 0n, 3_000)).toEqual([]);
    expect(stack.fake.requests).toHaveLength(requests);
  });

  it("400: the run ends idle with the error, once, then quiet until new input", async () => {
    const refused: FakeFault = { fault: "status", status: 400, message: "summary refused for this test" };
    await using stack = await startHarnessStack(failingSummaries(refused), { REINS_WAKE_MODE: mode }, fake);
    const { sessionId } = await stack.client().startSession({ config, message: "do all the steps" });
    const events = await stack.settled(sessionId, 0n, 120_000);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.ERROR]);
    expect(errors(events)).toMatchObject([{ kind: "invalid_request", retryable: false }]);
    expect(errors(events)[0]?.message).toContain("summary refused for this test");
    expect(stack.fake.requests.filter((r) => isSummaryRequest(r.body)).map((r) => r.status)).toEqual([400]);

    const requests = stack.fake.requests.length;
    expect(await eventsWithin(stack.sessions, sessionId, events.at(-1)?.seq ?? 0n, 3_000)).toEqual([]);
    expect(stack.fake.requests).toHaveLength(requests);
  });
});
