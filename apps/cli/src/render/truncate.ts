export interface TruncateOptions {
  /** Keep at most this many lines (head and tail, with a marker in between). */
  maxLines: number;
  /** Cut any line longer than this many characters. */
  maxLineLength: number;
}

function cutLine(line: string, max: number): string {
  return line.length <= max ? line : `${line.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * Shortens tool output for display: keeps the first and last lines (the start
 * says what ran, the end usually says how it ended) and states how many were
 * left out, so truncation is never silent.
 */
export function truncateOutput(text: string, options: TruncateOptions): string[] {
  const lines = text.replace(/\s+$/, "").split("\n");
  if (lines.length === 1 && lines[0] === "") return [];
  const cut = (l: string) => cutLine(l, options.maxLineLength);
  if (lines.length <= options.maxLines) return lines.map(cut);
  const head = Math.ceil((options.maxLines - 1) / 2);
  const tail = options.maxLines - 1 - head;
  const hidden = lines.length - head - tail;
  return [
    ...lines.slice(0, head).map(cut),
    `… ${hidden} more line${hidden === 1 ? "" : "s"} …`,
    ...lines.slice(lines.length - tail).map(cut),
  ];
}

/** One-line preview of a string: newlines shown as ⏎, cut at `max`. */
export function oneLine(text: string, max: number): string {
  return cutLine(text.replace(/\s*\n\s*/g, " ⏎ ").trim(), max);
}

/**
 * A tool input JSON document as a compact one-line preview. Objects with a
 * single string field (the usual `{"command": "..."}`) show just that string.
 */
export function previewInput(inputJson: string, max: number): string {
  try {
    const value: unknown = JSON.parse(inputJson);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value);
      if (entries.length === 1 && typeof entries[0]?.[1] === "string") return oneLine(entries[0][1], max);
    }
    return oneLine(JSON.stringify(value), max);
  } catch {
    return oneLine(inputJson, max);
  }
}
