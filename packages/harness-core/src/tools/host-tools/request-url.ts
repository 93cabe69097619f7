/**
 * How a host tool's input becomes a request URL, and which URLs it may reach.
 *
 * A URL template takes input fields by name, RFC 6570 style: `{name}` is
 * percent-encoded (it can only ever be one path segment or query value), `{+name}`
 * is inserted as given (it may carry slashes, a query, or even a whole URL). The
 * origin is checked after expansion, so whatever the model puts in a field, the
 * request goes to an allowed origin or nowhere.
 */

/** A template placeholder: `{name}` or `{+name}`. */
const placeholder = /\{(\+?)([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Names of the input fields a template uses. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(placeholder)].map((m) => m[2] as string);
}

/** The template with each placeholder replaced by its input field. */
export function expandTemplate(template: string, input: Readonly<Record<string, unknown>>): string {
  return template.replace(placeholder, (_, reserved: string, name: string) => {
    const text = scalarText(input[name]);
    return reserved === "+" ? text : encodeURIComponent(text);
  });
}

function scalarText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * Normalises an allow-list entry to an origin ("https://api.example.com").
 * Throws when it is not an http(s) origin: a path or query in an allow-list
 * entry would suggest a narrower rule than the one applied.
 */
export function parseOrigin(entry: string): string {
  if (!URL.canParse(entry)) throw new Error(`${JSON.stringify(entry)} is not a URL`);
  const url = new URL(entry);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${JSON.stringify(entry)} is not an http or https origin`);
  }
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new Error(`${JSON.stringify(entry)} must be an origin only (scheme, host and port), e.g. ${url.origin}`);
  }
  return url.origin;
}

/** Why a URL may not be called, or undefined when its origin is on the list. */
export function refusal(url: URL, allowed: ReadonlySet<string>): string | undefined {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${url.protocol} URLs are not allowed`;
  if (url.username || url.password) return "URLs with credentials in them are not allowed";
  if (!allowed.has(url.origin)) return `origin ${url.origin} is not allowed (allowed: ${[...allowed].join(", ")})`;
  return undefined;
}

/**
 * The origin a template always resolves to, when no placeholder can change it
 * (the scheme and authority are literal and end before the first placeholder);
 * else undefined.
 */
export function fixedOrigin(template: string): string | undefined {
  const first = template.search(/\{\+?[A-Za-z_]/);
  if (first === -1) return URL.canParse(template) ? new URL(template).origin : undefined;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*[/?#]/.exec(template);
  if (!authority || first < authority[0].length) return undefined;
  return URL.canParse(authority[0]) ? new URL(authority[0]).origin : undefined;
}

/** Which input fields go where once the template has taken its own. */
export function requestParts(
  method: string,
  template: string,
  input: Readonly<Record<string, unknown>>,
): { url: string; query: Array<[string, string]>; body: Record<string, unknown> | undefined } {
  const used = new Set(templateFields(template));
  const rest = Object.entries(input).filter(([name]) => !used.has(name));
  const url = expandTemplate(template, input);
  if (bodyMethods.has(method)) return { url, query: [], body: Object.fromEntries(rest) };
  const query: Array<[string, string]> = [];
  for (const [name, value] of rest) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) query.push([name, scalarText(item)]);
  }
  return { url, query, body: undefined };
}

/** Methods whose remaining input travels as a JSON body; the others send it as a query string. */
export const bodyMethods: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);
export const methods = ["GET", "HEAD", "DELETE", "POST", "PUT", "PATCH"] as const;
export type HttpMethod = (typeof methods)[number];
