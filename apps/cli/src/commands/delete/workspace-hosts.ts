import type { Client } from "@connectrpc/connect";
import { EventType, ExecutorService, type SessionService } from "@reins/proto";
import { clientFor, executorClient } from "../../clients.js";
import type { Targets } from "../../targets.js";

/** An executor that may hold a session's workspace. */
export interface WorkspaceHost {
  /** Registry id, or "" for the configured executor. */
  readonly id: string;
  readonly client: Client<typeof ExecutorService>;
  /** The session's current host: its workspace must go. An earlier one was lost, and may be unreachable. */
  readonly current: boolean;
}

// A session is placed again only when its host is lost: a handful of placements at most, read in pages of this.
const pageSize = 100;

/**
 * Where a session's workspace is: every executor its `session.placed` events
 * name (the latest is current), or, for a session never placed, the executor
 * the CLI is configured with.
 */
export async function workspaceHosts(
  session: Client<typeof SessionService>,
  sessionId: string,
  targets: Targets,
): Promise<WorkspaceHost[]> {
  const addresses: Array<{ id: string; address: string }> = [];
  let afterSeq = 0n;
  for (;;) {
    const page = await session.getEvents({ sessionId, afterSeq, limit: pageSize, types: [EventType.SESSION_PLACED] });
    for (const e of page.events) {
      if (e.payload.case === "sessionPlaced") {
        addresses.push({ id: e.payload.value.executorId, address: e.payload.value.executorAddress });
      }
    }
    if (page.events.length === 0 || page.nextAfterSeq >= page.lastSeq) break;
    afterSeq = page.nextAfterSeq;
  }
  if (addresses.length === 0) return [{ id: "", client: executorClient(targets), current: true }];
  const latest = addresses.at(-1)?.address;
  const unique = [...new Map(addresses.map((a) => [a.address, a])).values()];
  return unique.map((a) => ({
    id: a.id,
    client: clientFor(ExecutorService, a.address, targets.executorToken),
    current: a.address === latest,
  }));
}
