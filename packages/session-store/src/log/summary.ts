import { create } from "@bufbuild/protobuf";
import {
  type Event,
  type EventType,
  LatestEventSchema,
  RunState,
  type Session,
  SessionSchema,
  UsageSchema,
} from "@reins/proto";

/** An empty summary for a session whose log has not been read yet. */
export function emptySummary(sessionId: string): Session {
  return create(SessionSchema, { sessionId, usage: create(UsageSchema) });
}

/**
 * Folds one event into a session's summary. The summary is a pure function of the
 * log, so any replica that has read the log computes the same index entry.
 */
export function foldEvent(summary: Session, event: Event): void {
  summary.lastSeq = event.seq;
  summary.updateTime = event.time;
  const payload = event.payload;
  switch (payload.case) {
    case "sessionCreated":
      summary.title = payload.value.title;
      summary.model = payload.value.config?.model ?? "";
      summary.createTime = event.time;
      summary.tenant = payload.value.tenant;
      break;
    case "sessionStatus":
      summary.state = payload.value.state;
      // A running status keeps the previous stop reason: it answers "why did the
      // last run stop", which stays true while the next one runs.
      if (payload.value.state === RunState.IDLE || payload.value.state === RunState.TERMINATED) {
        summary.stopReason = payload.value.stopReason;
      }
      break;
    case "spanModelRequest": {
      summary.usage ??= create(UsageSchema);
      const usage = summary.usage;
      const add = payload.value.usage;
      if (add) {
        usage.inputTokens += add.inputTokens;
        usage.outputTokens += add.outputTokens;
        usage.cacheCreationInputTokens += add.cacheCreationInputTokens;
        usage.cacheReadInputTokens += add.cacheReadInputTokens;
      }
      summary.costUsd += payload.value.costUsd;
      summary.modelRequests += 1;
      if (summary.model === "" && payload.value.model !== "") summary.model = payload.value.model;
      break;
    }
    default:
      break;
  }
}

/**
 * Records that the event at `seq` is the latest of its type. Entries stay in
 * EventType order, so every replica folding the same log writes the same
 * summary; there are only a handful of types, so a linear search is enough.
 */
export function noteLatest(summary: Session, type: EventType, seq: number): void {
  const latest = summary.latestEvents;
  let i = 0;
  while (i < latest.length && (latest[i]?.type ?? 0) < type) i++;
  const entry = latest[i];
  if (entry?.type === type) entry.seq = BigInt(seq);
  else latest.splice(i, 0, create(LatestEventSchema, { type, seq: BigInt(seq) }));
}

/** The seq of the latest event of a type according to a summary, if any. */
export function latestSeqIn(summary: Session, type: EventType): number | undefined {
  const entry = summary.latestEvents.find((e) => e.type === type);
  return entry ? Number(entry.seq) : undefined;
}
