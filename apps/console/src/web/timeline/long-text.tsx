/** Past either, a text is collapsed to its first lines until the reader opens it. */
export const collapseLines = 12;
export const collapseChars = 1200;

export function isLong(text: string): boolean {
  return text.length > collapseChars || text.split("\n").length > collapseLines;
}

/**
 * Tool input and output, verbatim. A long one shows its first lines and opens
 * on demand, so a timeline of dozens of calls stays readable.
 */
export function LongText({ text, label }: { text: string; label: string }) {
  if (!isLong(text)) return <pre className="text-block">{text}</pre>;
  const lines = text.split("\n");
  const preview = lines.slice(0, 4).join("\n").slice(0, 400);
  return (
    <details className="long-text">
      <summary>
        <pre className="text-block preview">{preview}</pre>
        <span className="more">
          {label}: {lines.length} lines, {text.length} characters (show all)
        </span>
      </summary>
      <pre className="text-block">{text}</pre>
    </details>
  );
}
