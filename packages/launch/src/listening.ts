/**
 * The URL in the line every Reins daemon logs once it serves,
 * `{"msg":"listening","url":...}` (service-kit's `announceListening`); undefined
 * for any other line. With port 0 it is the only way a parent learns the port.
 */
export function listeningUrl(line: string): string | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return entry.msg === "listening" && typeof entry.url === "string" ? entry.url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the daemon of a `listening` line serves its Prometheus metrics (its
 * `metrics` field, a full URL); undefined for any other line, or when the
 * daemon's metrics are off.
 */
export function listeningMetricsUrl(line: string): string | undefined {
  if (listeningUrl(line) === undefined) return undefined;
  const { metrics } = JSON.parse(line) as { metrics?: unknown };
  return typeof metrics === "string" ? metrics : undefined;
}
