import { type FormEvent, useEffect, useMemo, useState } from "react";
import { Link, routeOf, useLocation } from "./router.js";
import { createServices, errorText, loadServiceUrls, type ServiceUrls } from "./services.js";
import { SessionPage } from "./session/session-page.js";
import { SessionsPage } from "./sessions/sessions-page.js";
import { readToken, writeToken } from "./token-store.js";

export function App() {
  const [urls, setUrls] = useState<ServiceUrls>();
  const [loadError, setLoadError] = useState<string>();
  const [token, setToken] = useState(readToken);
  const { pathname, hash } = useLocation();
  useEffect(() => {
    loadServiceUrls().then(setUrls, (err: unknown) => setLoadError(errorText(err)));
  }, []);
  // New clients when the token changes: every stream reconnects with it.
  const services = useMemo(() => (urls ? createServices(urls, token) : undefined), [urls, token]);
  const route = routeOf(pathname);
  const saveToken = (next: string | undefined) => {
    writeToken(next);
    setToken(next);
  };
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          Reins
        </Link>
        <TokenBar token={token} onChange={saveToken} />
      </header>
      <main>
        {loadError && <p className="error banner">cannot load the console's configuration: {loadError}</p>}
        {services && route.page === "sessions" && <SessionsPage services={services} />}
        {services && route.page === "session" && (
          // Another token may see another tenant: the page starts afresh rather than keep what the last one saw.
          <SessionPage
            key={`${route.sessionId} ${token ?? ""}`}
            services={services}
            sessionId={route.sessionId}
            hash={hash}
          />
        )}
        {route.page === "not-found" && <p className="error banner">no page at {route.path}</p>}
      </main>
    </div>
  );
}

/** The tab's bearer token: entered once, kept in sessionStorage, forgotten on demand. */
function TokenBar({ token, onChange }: { token: string | undefined; onChange: (token: string | undefined) => void }) {
  const [draft, setDraft] = useState("");
  if (token) {
    return (
      <div className="token">
        <span>token set for this tab</span>
        <button type="button" onClick={() => onChange(undefined)}>
          forget token
        </button>
      </div>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const value = draft.trim();
    if (value) onChange(value);
    setDraft("");
  };
  return (
    <form className="token" onSubmit={submit}>
      <input
        type="password"
        name="token"
        aria-label="bearer token"
        placeholder="bearer token (if the services need one)"
        autoComplete="off"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
      />
      <button type="submit">use token</button>
    </form>
  );
}
