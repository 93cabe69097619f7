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

/** A tool input as a transcript shows it: a one-line part and, for code, lines below. */
export interface InputView {
  readonly inline: string;
  readonly lines: string[];
}

/**
 * A tool input for a transcript. The one string field with several lines (code,
 * a file's content, a script) is shown as lines, shortened like output; the
 * other fields inline as `name=value` (a lone field as just its value).
 */
export function inputView(inputJson: string, options: TruncateOptions): InputView {
  let value: unknown;
  try {
    value = JSON.parse(inputJson);
  } catch {
    return { inline: oneLine(inputJson, options.maxLineLength), lines: [] };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return { inline: oneLine(JSON.stringify(value), options.maxLineLength), lines: [] };
  }
  const entries = Object.entries(value);
  const multiline = entries.filter(([, v]) => typeof v === "string" && v.trim().includes("\n"));
  const block = multiline.length === 1 ? multiline[0] : undefined;
  const rest = entries.filter((e) => e !== block);
  const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  const inline =
    rest.length === 1 && !block
      ? show(rest[0]?.[1])
      : rest.map(([k, v]) => `${k}=${typeof v === "string" && /^\S+$/.test(v) ? v : JSON.stringify(v)}`).join(" ");
  return {
    inline: oneLine(inline, options.maxLineLength),
    lines: block ? truncateOutput(block[1] as string, options) : [],
  };
}
