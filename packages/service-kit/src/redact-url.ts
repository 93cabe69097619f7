/**
 * URLs as they may be logged or put in an error. A server URL can carry a
 * credential in its userinfo (`nats://user:password@host`, `nats://token@host`);
 * nothing that leaves the process (a log line, an error a client reads) may
 * show it, so the whole userinfo becomes `[redacted]`: with a token there is no
 * user name to keep.
 */

// Scheme (optional: NATS takes "host:port" too), then an authority whose userinfo ends at its last "@".
const userinfo = /^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)[^/?#]*@/;

/** The URL with any credential in it replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.trim().replace(userinfo, "$1[redacted]@");
}

/** Each of the URLs redacted, joined with commas (how a server list is configured and shown). */
export function redactUrls(urls: string | readonly string[]): string {
  const list = typeof urls === "string" ? urls.split(",") : urls;
  return list.map(redactUrl).join(",");
}
