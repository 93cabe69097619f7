import { type MouseEvent, type ReactNode, useEffect, useState } from "react";

/** The pages, by path: `/` lists sessions, `/sessions/<id>` shows one. */
export type Route = { page: "sessions" } | { page: "session"; sessionId: string } | { page: "not-found"; path: string };

export function routeOf(pathname: string): Route {
  if (pathname === "/" || pathname === "/sessions") return { page: "sessions" };
  const match = /^\/sessions\/([^/]+)\/?$/.exec(pathname);
  if (match?.[1]) {
    try {
      return { page: "session", sessionId: decodeURIComponent(match[1]) };
    } catch {
      return { page: "not-found", path: pathname };
    }
  }
  return { page: "not-found", path: pathname };
}

export function sessionPath(sessionId: string): string {
  return `/sessions/${encodeURIComponent(sessionId)}`;
}

const changed = "reins:navigate";

export function navigate(to: string): void {
  history.pushState(null, "", to);
  window.dispatchEvent(new Event(changed));
}

/** The current path and hash, following links, back and forward. */
const read = () => ({ pathname: location.pathname, hash: location.hash });

export function useLocation(): { pathname: string; hash: string } {
  const [at, setAt] = useState(read);
  useEffect(() => {
    const update = () => setAt(read());
    window.addEventListener("popstate", update);
    window.addEventListener("hashchange", update);
    window.addEventListener(changed, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("hashchange", update);
      window.removeEventListener(changed, update);
    };
  }, []);
  return at;
}

/** A link inside the console: no page load; modified clicks (new tab) behave as usual. */
export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className}>
      {children}
    </a>
  );
}
