type Env = Readonly<Record<string, string | undefined>>;

/**
 * The browser origins a daemon answers CORS for, from `<PREFIX>_CORS_ORIGINS`
 * (comma-separated; `*` allows any). Empty: no CORS. Each entry must be an
 * origin as a browser sends it (`https://console.example:8443`, no path), or a
 * typo would silently allow nothing; the error names the variable and the entry.
 */
export function loadCorsOrigins(env: Env, prefix: string): string[] {
  const name = `${prefix}_CORS_ORIGINS`;
  const entries = (env[name] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const entry of entries) {
    if (entry === "*") continue;
    const problem = originProblem(entry);
    if (problem) throw new Error(`${name}: ${JSON.stringify(entry)} ${problem}`);
  }
  return entries;
}

function originProblem(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return "is not an origin (expected scheme://host[:port], or *)";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "is not an http or https origin";
  // URL.origin drops a default port and a trailing slash; browsers send the short form.
  if (url.origin !== entry) return `is not an origin as browsers send it (expected ${url.origin})`;
  return undefined;
}
