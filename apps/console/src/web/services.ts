import { type Client, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { HarnessService, SessionService } from "@reins/proto";

/** Where the services are, as the console's server says in /config.json. */
export interface ServiceUrls {
  readonly sessionUrl: string;
  readonly harnessUrl: string;
}

export interface Services {
  readonly sessions: Client<typeof SessionService>;
  readonly harness: Client<typeof HarnessService>;
}

/**
 * Clients of both services over Connect from the browser, each call carrying
 * the tab's token when one is set. The services decide everything else: roles,
 * and the tenant a token may see.
 */
export function createServices(urls: ServiceUrls, token: string | undefined): Services {
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = (baseUrl: string) => createConnectTransport({ baseUrl, interceptors: [bearer] });
  return {
    sessions: createClient(SessionService, transport(urls.sessionUrl)),
    harness: createClient(HarnessService, transport(urls.harnessUrl)),
  };
}

/** An error as the service said it (`[not_found] session "x" does not exist`). */
export function errorText(err: unknown): string {
  if (err instanceof ConnectError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

export async function loadServiceUrls(): Promise<ServiceUrls> {
  const res = await fetch("/config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`/config.json: HTTP ${res.status}`);
  const body = (await res.json()) as Partial<ServiceUrls>;
  if (typeof body.sessionUrl !== "string" || typeof body.harnessUrl !== "string") {
    throw new Error("/config.json does not name sessionUrl and harnessUrl");
  }
  return { sessionUrl: body.sessionUrl, harnessUrl: body.harnessUrl };
}
