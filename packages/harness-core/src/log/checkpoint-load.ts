import { Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventType } from "@reins/proto";
import { createSessionFold, type SessionFold } from "./fold.js";
import type { SessionClient } from "./session-log.js";

/**
 * Reads a session from its latest checkpoint (the latest
 * `agent.context_compacted` with a summary) instead of from seq 1, so a wake
 * costs the same however long the log has grown: the compaction, the
 * `session.created` that carries the config, the latest `session.status` (the
 * run state, when the run began), the latest `session.placed` (the executor
 * its calls go to), then only the events after the seq the
 * summary stands for. The counters the limits need (turns, tokens) are carried
 * by the compaction itself. Undefined when there is no such checkpoint, or the
 * session service predates GetLatestEvent: the caller reads the whole log.
 */
export async function loadFromCheckpoint(
  client: SessionClient,
  sessionId: string,
  signal?: AbortSignal,
): Promise<SessionFold | undefined> {
  const latest = (type: EventType) => client.getLatestEvent({ sessionId, type }, { signal }).then((r) => r.event);
  let found: [Event | undefined, Event | undefined, Event | undefined, Event | undefined];
  try {
    found = await Promise.all([
      latest(EventType.AGENT_CONTEXT_COMPACTED),
      latest(EventType.SESSION_CREATED),
      latest(EventType.SESSION_STATUS),
      latest(EventType.SESSION_PLACED),
    ]);
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unimplemented) return undefined;
    throw err;
  }
  const [compaction, created, status, placed] = found;
  if (compaction?.payload.case !== "agentContextCompacted" || !created) return undefined;
  const from = compaction.payload.value.lastSeq;
  // Clearing alone (no summary yet) stands for nothing: the view still starts at seq 1.
  if (from === 0n) return undefined;
  const fold = createSessionFold(sessionId, [created]);
  if (status && status.seq <= from) fold.apply(status);
  // Where the session's workspace is: its calls keep going there after the wake.
  if (placed && placed.seq <= from) fold.apply(placed);
  let afterSeq = from;
  for (;;) {
    const page = await client.getEvents({ sessionId, afterSeq, limit: 1000 }, { signal });
    for (const event of page.events) fold.apply(event);
    if (page.events.length === 0 || page.nextAfterSeq >= page.lastSeq) return fold;
    afterSeq = page.nextAfterSeq;
  }
}
