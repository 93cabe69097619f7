import type { ListSessionsRequest, ListSessionsResponse, RunState, Session } from "@reins/proto";

/** Sessions asked for per ListSessions call. */
export const sessionsPageSize = 200;

export type ListSessions = (
  request: Pick<ListSessionsRequest, "pageSize" | "pageToken" | "state">,
) => Promise<Pick<ListSessionsResponse, "sessions" | "nextPageToken">>;

/**
 * The first `pages` pages of the list, following the service's page tokens, and
 * whether there are more. A refresh reads as many pages as the viewer has opened,
 * so the list does not shrink back to one page under them.
 */
export async function loadSessionPages(
  list: ListSessions,
  state: RunState,
  pages: number,
): Promise<{ sessions: Session[]; more: boolean }> {
  const sessions: Session[] = [];
  let pageToken = "";
  for (let page = 0; page < pages; page++) {
    const res = await list({ pageSize: sessionsPageSize, pageToken, state });
    sessions.push(...res.sessions);
    pageToken = res.nextPageToken;
    if (pageToken === "") return { sessions, more: false };
  }
  return { sessions, more: true };
}
