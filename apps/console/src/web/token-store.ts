// The bearer token lives in sessionStorage: entered once, kept while the tab
// lives (reloads included), gone when it closes, never shared with other tabs
// and never sent anywhere but the two services, in the authorization header.
const key = "reins.console.token";

export function readToken(): string | undefined {
  try {
    return sessionStorage.getItem(key) || undefined;
  } catch {
    return undefined;
  }
}

export function writeToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(key, token);
  else sessionStorage.removeItem(key);
}
