import { RunState, type Session } from "@reins/proto";
import { useEffect, useState } from "react";
import { Link, sessionPath } from "../router.js";
import { errorText, type Services } from "../services.js";
import { formatAge, formatCost, formatCount, stateName, stopReasonName, totalTokens } from "../timeline/format.js";
import { loadSessionPages } from "./session-pages.js";
import { StartSessionForm } from "./start-session-form.js";

// The list follows changes by asking again: ListSessions has no stream, and the index is cheap to read.
const refreshMs = 2000;

const filters: { label: string; state: RunState }[] = [
  { label: "all", state: RunState.UNSPECIFIED },
  { label: "running", state: RunState.RUNNING },
  { label: "idle", state: RunState.IDLE },
  { label: "rescheduling", state: RunState.RESCHEDULING },
  { label: "terminated", state: RunState.TERMINATED },
];

export function SessionsPage({ services }: { services: Services }) {
  const [filter, setFilter] = useState(RunState.UNSPECIFIED);
  const [sessions, setSessions] = useState<Session[]>();
  // Pages of the list opened with "show more"; each refresh reads them all again.
  const [pages, setPages] = useState(1);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string>();
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const res = await loadSessionPages(
          (request) => services.sessions.listSessions(request, { signal: abort.signal }),
          filter,
          pages,
        );
        setSessions(res.sessions);
        setMore(res.more);
        setError(undefined);
      } catch (err) {
        if (!abort.signal.aborted) setError(errorText(err));
      }
      setNow(Date.now());
      if (!abort.signal.aborted) timer = setTimeout(load, refreshMs);
    };
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [services, filter, pages]);

  return (
    <section className="sessions-page">
      <StartSessionForm services={services} />
      <div className="list-head">
        <h1>Sessions</h1>
        <fieldset className="filters" aria-label="filter by state">
          {filters.map((f) => (
            <button
              type="button"
              key={f.label}
              className={f.state === filter ? "active" : ""}
              aria-pressed={f.state === filter}
              onClick={() => {
                setFilter(f.state);
                setPages(1);
              }}
            >
              {f.label}
            </button>
          ))}
        </fieldset>
      </div>
      {error && <p className="error banner">{error}</p>}
      {sessions && sessions.length === 0 && <p className="meta">no sessions{filter ? " in this state" : ""}</p>}
      {sessions && sessions.length > 0 && (
        <table className="sessions">
          <thead>
            <tr>
              <th>title</th>
              <th>state</th>
              <th>stop reason</th>
              <th className="number">tokens</th>
              <th className="number">cost</th>
              <th className="number">age</th>
              <th>id</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.sessionId} data-session-id={s.sessionId}>
                <td>
                  <Link to={sessionPath(s.sessionId)}>{s.title || "(untitled)"}</Link>
                </td>
                <td className={`state state-${stateName(s.state)}`}>{stateName(s.state)}</td>
                <td>{stopReasonName(s.stopReason)}</td>
                <td className="number">{formatCount(totalTokens(s.usage))}</td>
                <td className="number">{formatCost(s.costUsd)}</td>
                <td className="number">{formatAge(s.createTime, now)}</td>
                <td>
                  <code>{s.sessionId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && (
        <button type="button" className="show-more" onClick={() => setPages((n) => n + 1)}>
          show more
        </button>
      )}
    </section>
  );
}
