import { type Logger, pino } from "pino";
import { currentLogIds } from "./tracing/index.js";

export type { Logger };

// Anything that can hold a credential is censored wherever it appears in a log
// object, so a secret passed around by mistake still never reaches a log line.
const redactPaths = [
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "apiKey",
  "*.apiKey",
  "api_key",
  "*.api_key",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "env",
  "*.env",
];

/**
 * A JSON logger on stdout, one line per entry. `REINS_LOG_LEVEL` sets the level
 * (default "info"). A line written while a span is recorded carries its
 * `trace_id` and `span_id`, so it can be found from the trace and back.
 */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.REINS_LOG_LEVEL ?? "info",
    redact: { paths: redactPaths, censor: "[redacted]" },
    base: { pid: process.pid },
    mixin: () => currentLogIds() ?? {},
  });
}

/**
 * The line launchers wait for: `{"msg":"listening","url":...}`. With port 0 it is
 * the only way a parent learns the port.
 */
export function announceListening(log: Logger, url: string, extra: Record<string, unknown> = {}): void {
  log.info({ url, ...extra }, "listening");
}

/** Parses "host:port", ":port" or "port" (host defaults to 127.0.0.1). */
export function parseListenAddress(value: string | undefined, defaultPort: number): { host: string; port: number } {
  if (!value) return { host: "127.0.0.1", port: defaultPort };
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(value.trim());
  if (!match) throw new Error(`invalid listen address "${value}": expected host:port, :port or port`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`invalid listen address "${value}": port out of range`);
  return { host: match[1] || "127.0.0.1", port };
}
