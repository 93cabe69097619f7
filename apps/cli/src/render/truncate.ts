export interface TruncateOptions {
  /** Keep at most this many lines (head and tail, with a marker in between). */
  maxLines: number;
  /** Wrap lines longer than this many characters. */
  maxLineLength: number;
}

function cutLine(line: string, max: number): string {
  return line.length <= max ? line : `${line.slice(0, Math.max(1, max - 1))}…`;
}

function wrap(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const parts: string[] = [];
  for (let i = 0; i < line.length; i += width) parts.push(line.slice(i, i + width));
  return parts;
}

/**
 * Shortens tool output for display: long lines are wrapped (an error message
 * cut mid-sentence is useless), then the first and last lines are kept (the
 * start says what ran, the end usually says how it ended) and the number left
 * out is stated, so truncation is never silent.
 */
export function truncateOutput(text: string, options: TruncateOptions): string[] {
  const raw = text.replace(/\s+$/, "");
  if (raw === "") return [];
  const lines = raw.split("\n").flatMap((l) => wrap(l.replace(/\t/g, "  "), Math.max(1, options.maxLineLength)));
  if (lines.length <= options.maxLines) return lines;
  const head = Math.ceil((options.maxLines - 1) / 2);
  const tail = options.maxLines - 1 - head;
  const hidden = lines.length - head - tail;
  return [
    ...lines.slice(0, head),
    `… ${hidden} more line${hidden === 1 ? "" : "s"} …`,
    ...lines.slice(lines.length - tail),
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

/**
 * A tool input for a transcript: a lone string field with several lines (code,
 * a script) as those lines, shortened; anything else as one preview line.
 */
export function inputLines(inputJson: string, options: TruncateOptions): string[] {
  try {
    const value: unknown = JSON.parse(inputJson);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value);
      const only = entries.length === 1 ? entries[0]?.[1] : undefined;
      if (typeof only === "string" && only.trim().includes("\n")) return truncateOutput(only, options);
    }
  } catch {
    // not JSON: previewed as text below
  }
  return [previewInput(inputJson, options.maxLineLength)];
}
