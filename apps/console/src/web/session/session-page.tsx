import type { Session } from "@reins/proto";
import { RunState } from "@reins/proto";
import { useEffect, useState } from "react";
import { Link } from "../router.js";
import { errorText, type Services } from "../services.js";
import { formatAge, formatCost, formatUsage, stateName, stopReasonName } from "../timeline/format.js";
import { Timeline } from "../timeline/timeline.js";
import { pendingCalls } from "../timeline/timeline-state.js";
import { PendingCalls } from "./pending-calls.js";
import { SessionActions } from "./session-actions.js";
import { useSessionTimeline } from "./use-session-timeline.js";

/** One session: its header (state, usage, cost), its timeline live, and what a user can do to it. */
export function SessionPage({ services, sessionId, hash }: { services: Services; sessionId: string; hash: string }) {
  const { state, eventsError, textError } = useSessionTimeline(services, sessionId);
  const [session, setSession] = useState<Session>();
  const [sessionError, setSessionError] = useState<string>();

  // The index's totals (usage, cost) change with each model request and status: read them again then.
  const lastEvent = state.events.at(-1);
  const totalsChanged = state.events.filter(
    (e) => e.payload.case === "sessionStatus" || e.payload.case === "spanModelRequest",
  ).length;
  // biome-ignore lint/correctness/useExhaustiveDependencies: totalsChanged is the trigger
  useEffect(() => {
    const abort = new AbortController();
    services.sessions.getSession({ sessionId }, { signal: abort.signal }).then(
      (res) => {
        setSession(res.session);
        setSessionError(undefined);
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setSessionError(errorText(err));
      },
    );
    return () => abort.abort();
  }, [services, sessionId, totalsChanged]);

  // A deep link (#seq-42) points at an event that arrives with the replay: scroll to it once it is there.
  const targetSeq = /^#seq-(\d+)$/.exec(hash)?.[1];
  const targetPresent = targetSeq !== undefined && state.lastSeq >= BigInt(targetSeq);
  useEffect(() => {
    if (targetPresent) document.getElementById(`seq-${targetSeq}`)?.scrollIntoView({ block: "center" });
  }, [targetPresent, targetSeq]);

  const latestStatus = state.events.findLast((e) => e.payload.case === "sessionStatus")?.payload;
  const runState =
    latestStatus?.case === "sessionStatus" ? latestStatus.value.state : (session?.state ?? RunState.UNSPECIFIED);
  const stopReason = latestStatus?.case === "sessionStatus" ? latestStatus.value.stopReason : session?.stopReason;
  const pending = pendingCalls(state.events);

  return (
    <section className="session-page">
      <nav className="crumbs">
        <Link to="/">← sessions</Link>
      </nav>
      <header className="session-head">
        <h1>{session?.title || sessionId}</h1>
        <dl className="facts">
          <dt>id</dt>
          <dd>
            <code>{sessionId}</code>
          </dd>
          <dt>state</dt>
          <dd className={`state state-${stateName(runState)}`} data-testid="session-state">
            {stateName(runState)}
            {stopReason ? ` · ${stopReasonName(stopReason)}` : ""}
          </dd>
          <dt>tokens</dt>
          <dd>{formatUsage(session?.usage)}</dd>
          <dt>cost</dt>
          <dd>{formatCost(session?.costUsd ?? 0)}</dd>
          <dt>model requests</dt>
          <dd>{session?.modelRequests ?? 0}</dd>
          <dt>age</dt>
          <dd>{formatAge(session?.createTime, Date.now())}</dd>
          <dt>events</dt>
          <dd data-testid="last-seq">{String(lastEvent?.seq ?? 0n)}</dd>
        </dl>
      </header>
      {sessionError && <p className="error banner">{sessionError}</p>}
      {eventsError && <p className="error banner">events: {eventsError}</p>}
      {textError && <p className="meta">live text: {textError}</p>}
      <Timeline state={state} targetSeq={targetSeq === undefined ? undefined : BigInt(targetSeq)} />
      <PendingCalls services={services} sessionId={sessionId} calls={pending} />
      <SessionActions services={services} sessionId={sessionId} running={runState === RunState.RUNNING} />
    </section>
  );
}
