import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Event, eventNameOf, RunState, type SessionStatus, StopReason } from "@reins/proto";
import type { FakeScript } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { eventsWithin } from "./support/events-within.js";
import { startHarnessStack } from "./support/harness-stack.js";

// A model that keeps failing, against harness daemons in both wake modes: a
// request the API refuses (401) is made once and the session then waits for
// new input, however long nobody gives any; an API that stays overloaded (529)
// gets a bounded series of attempts at growing intervals, each one visible in
// the log as a rescheduling status, and the session ends retries_exhausted.

const config = { model: "claude-test", systemPrompt: "Be brief." };

const statuses = (events: readonly Event[]): SessionStatus[] =>
  events.flatMap((e) => (e.payload.case === "sessionStatus" ? [e.payload.value] : []));

function lastStatus(events: readonly Event[]) {
  const status = statuses(events).at(-1);
  return status ? [status.state, status.stopReason] : [];
}

/** When the fake received a request, on the epoch clock the harness writes retry times with. */
const arrivalMs = (receivedAt: number) => performance.timeOrigin + receivedAt;

describe.each(["queue", "direct"] as const)("a failing model (%s mode)", { timeout: 120_000 }, (mode) => {
  const env = { REINS_WAKE_MODE: mode };

  it("401: one request, then no event and no request for 10 s; a Wake makes exactly one more", async () => {
    const refuse: FakeScript = () => ({ fault: "status", status: 401, message: "invalid x-api-key" });
    await using stack = await startHarnessStack(refuse, env);
    const { sessionId } = await stack.client().startSession({ config, message: "go" });
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.ERROR]);
    const error = events.find((e) => e.payload.case === "sessionError");
    expect(error?.payload.value).toMatchObject({ kind: "unauthorized", retryable: false });
    expect(error?.payload.case === "sessionError" && error.payload.value.message).toContain("invalid x-api-key");
    expect(stack.fake.requests).toHaveLength(1);

    const quiet = await eventsWithin(stack.sessions, sessionId, events.at(-1)?.seq ?? 0n, 10_000);
    expect(quiet.map(eventNameOf)).toEqual([]);
    expect(stack.fake.requests).toHaveLength(1);

    // New input from the client: one more try, and the same wait after it.
    const { lastSeq } = await stack.client().wake({ sessionId });
    const woken = await stack.settled(sessionId, lastSeq);
    expect(lastStatus(woken)).toEqual([RunState.IDLE, StopReason.ERROR]);
    expect(stack.fake.requests).toHaveLength(2);
    expect(await eventsWithin(stack.sessions, sessionId, woken.at(-1)?.seq ?? 0n, 2_000)).toEqual([]);
    expect(stack.fake.requests).toHaveLength(2);
  });

  it("529 forever: a bounded series of attempts at growing intervals, visible in the log, ending retries_exhausted", async () => {
    const overloaded: FakeScript = () => ({ fault: "overloaded" });
    await using stack = await startHarnessStack(overloaded, {
      ...env,
      // One HTTP attempt per model request, so that each request the fake sees is one rescheduled attempt.
      REINS_MODEL_MAX_ATTEMPTS: "1",
      REINS_MODEL_RESCHEDULES: "3",
      REINS_MODEL_RESCHEDULE_MS: "500",
      REINS_MODEL_RESCHEDULE_MAX_MS: "4000",
    });
    const { sessionId } = await stack.client().startSession({ config, message: "go" });
    const events = await stack.settled(sessionId);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.RETRIES_EXHAUSTED]);
    const rescheduled = statuses(events).filter((s) => s.state === RunState.RESCHEDULING);
    expect(rescheduled.map((s) => s.retryAttempt)).toEqual([1, 2, 3]);
    for (const s of rescheduled) expect(s.detail).toMatch(/^retrying at \S+ \(attempt \d of 3\): model API 529/);
    expect(statuses(events).at(-1)?.detail).toMatch(/through 3 rescheduled attempts: model API 529/);

    // The first request and one per rescheduled attempt, none before its retry time.
    const requests = stack.fake.requests;
    expect(requests.map((r) => r.status)).toEqual([529, 529, 529, 529]);
    const arrivals = requests.map((r) => arrivalMs(r.receivedAt));
    rescheduled.forEach((s, i) => {
      const due = s.retryTime ? timestampMs(s.retryTime) : Number.NaN;
      // The harness's clock and this process's are the same machine's; a few ms of rounding between them.
      expect(arrivals[i + 1]).toBeGreaterThanOrEqual(due - 5);
    });
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
    expect(gaps.every((gap, i) => i === 0 || gap > (gaps[i - 1] as number))).toBe(true);
    console.log(
      `${mode} mode, 529 forever: ${requests.length} requests, gaps ${gaps.map((g) => `${Math.round(g)} ms`).join(", ")}`,
    );

    // Nothing more, until new input.
    expect(await eventsWithin(stack.sessions, sessionId, events.at(-1)?.seq ?? 0n, 3_000)).toEqual([]);
    expect(stack.fake.requests).toHaveLength(4);
  });
});
