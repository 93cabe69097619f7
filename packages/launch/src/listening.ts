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
