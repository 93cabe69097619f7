/**
 * Scrubbing a host tool's secret from what comes back. A server may echo the
 * header it was sent (prefix and all), the bare secret, or either one escaped
 * inside a JSON string or a URL; every such form is replaced by `[redacted]`.
 */

export const redactedMarker = "[redacted]";

/**
 * The text with every form of the secrets replaced. `cut`: the text was cut
 * short, so its end may hold the first characters of a secret whose rest was
 * dropped; those are removed too.
 */
export type Scrubber = (text: string, cut?: boolean) => string;

export function createScrubber(secrets: readonly string[]): Scrubber {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  // Longest first: "Bearer <secret>" goes as a whole before "<secret>" alone.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text, cut = false) => {
    let out = text;
    for (const form of ordered) out = out.replaceAll(form, redactedMarker);
    return cut ? dropPartialTail(out, ordered) : out;
  };
}

/**
 * `text` without a trailing start of any of `forms` (a secret cut in the
 * middle). A coincidence costs a few characters of a body that was cut anyway.
 */
function dropPartialTail(text: string, forms: readonly string[]): string {
  let keep = text.length;
  for (const form of forms) {
    for (let n = Math.min(form.length - 1, text.length); n > 0; n--) {
      if (text.endsWith(form.slice(0, n))) {
        keep = Math.min(keep, text.length - n);
        break;
      }
    }
  }
  return text.slice(0, keep);
}
