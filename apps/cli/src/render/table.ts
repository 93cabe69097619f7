import { stripVTControlCharacters } from "node:util";
import type { Colors } from "../terminal.js";

export interface Column {
  readonly header: string;
  readonly align?: "left" | "right";
  /** Cells longer than this are cut with an ellipsis. */
  readonly maxWidth?: number;
}

const visibleLength = (s: string) => stripVTControlCharacters(s).length;

function fitCell(cell: string, max: number | undefined): string {
  if (max === undefined || visibleLength(cell) <= max) return cell;
  // Cutting coloured text would split an escape sequence; cells that need
  // cutting are plain text, so drop the colour rather than break the terminal.
  return `${stripVTControlCharacters(cell).slice(0, Math.max(1, max - 1))}…`;
}

/**
 * A plain aligned table: bold headers, two spaces between columns, widths from
 * the visible (escape-free) cell lengths.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], c: Colors): string[] {
  const cells = rows.map((row) => columns.map((col, i) => fitCell(row[i] ?? "", col.maxWidth)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((r) => visibleLength(r[i] ?? ""))));
  const pad = (text: string, i: number) => {
    const gap = " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(text)));
    return columns[i]?.align === "right" ? gap + text : text + gap;
  };
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => pad(cell, i))
      .join("  ")
      .trimEnd();
  return [c.bold(line(columns.map((col) => col.header))), ...cells.map(line)];
}
