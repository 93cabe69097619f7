import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseListenAddress } from "@reins/service-kit";

type Env = Readonly<Record<string, string | undefined>>;

/** What the console's server reads from its environment, checked once at start. */
export interface ConsoleConfig {
  readonly listen: { host: string; port: number };
  /** The session service as the browser reaches it (REINS_CONSOLE_SESSION_URL). */
  readonly sessionUrl: string;
  /** The harness as the browser reaches it (REINS_CONSOLE_HARNESS_URL). */
  readonly harnessUrl: string;
  /** The built browser app (vite build's output). */
  readonly webRoot: string;
}

/** Next to the built server: dist/main.js serves dist/web. */
export const defaultWebRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), "web");

export function loadConsoleConfig(env: Env): ConsoleConfig {
  return {
    listen: parseListenAddress(env.REINS_CONSOLE_LISTEN, 7080),
    sessionUrl: serviceUrl(env, "REINS_CONSOLE_SESSION_URL", "http://127.0.0.1:7001"),
    harnessUrl: serviceUrl(env, "REINS_CONSOLE_HARNESS_URL", "http://127.0.0.1:7002"),
    webRoot: env.REINS_CONSOLE_WEB_ROOT || defaultWebRoot,
  };
}

/**
 * A service URL as the browser will call it: http(s), no credentials, no query.
 * It is also what the Content-Security-Policy allows the page to connect to.
 */
function serviceUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name}=${JSON.stringify(raw)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${name}=${JSON.stringify(raw)} must be http or https: browsers call the services over HTTP`);
  }
  if (url.username || url.password) {
    throw new Error(`${name} must not carry credentials: the page would show them to every visitor`);
  }
  if (url.search || url.hash) throw new Error(`${name}=${JSON.stringify(raw)} must not have a query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
