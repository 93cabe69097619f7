/**
 * The Content-Security-Policy of every answer: the page runs only its own
 * scripts and styles, loads nothing from elsewhere (no CDN, no fonts), and
 * connects only to itself (config.json) and the two services it calls. A
 * script injected through a model's output could not send data anywhere else.
 */
export function contentSecurityPolicy(serviceUrls: readonly string[]): string {
  const origins = [...new Set(serviceUrls.map((u) => new URL(u).origin))];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${origins.join(" ")}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers on every answer, whatever its status. */
export function securityHeaders(csp: string): Record<string, string> {
  return {
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  };
}
