import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Event } from "@reins/proto";
import { FencedError, InvalidRequestError, SessionNotFoundError } from "../errors.js";
import { batchMsgId, encodeBatch, type SessionState, visibleTo, wireFormOf } from "../log/index.js";
import type { StoreContext } from "../store-context.js";
import { checkAppendBatch, checkExpectedLastSeq, checkSessionId } from "../validate.js";
import { fencedPublish } from "./fenced-publish.js";

export interface AppendResult {
  /** The events as in the log, in request order. */
  readonly events: Event[];
  /** The log's last seq after the append. */
  readonly lastSeq: number;
}

/**
 * Appends a batch at `expectedLastSeq` (invariant 2 in ARCHITECTURE.md):
 *
 * - Every event id already in the log (anywhere, not only inside JetStream's
 *   dedupe window): the batch is a no-op that returns the originals, whatever
 *   `expectedLastSeq` says, so a writer whose ack was lost can retry safely.
 * - Some ids in the log and some not: INVALID_ARGUMENT; a retry must resend the
 *   same batch, and a new batch must not reuse ids.
 * - No id in the log and the log's last seq is not `expectedLastSeq`: ABORTED
 *   with the current last seq; nothing is written.
 * - No id in the log, but an `agent.tool_use_started` of the batch names a
 *   tool_use id that already has its intent in the log: INVALID_ARGUMENT; a
 *   call is started once, and a second intent would make two calls of one id
 *   (checked on the state's index of intents: a lookup per intent, no scan).
 * - No id in the log, but the batch would take the log past its size limit, or
 *   the session is over its event rate: RESOURCE_EXHAUSTED; nothing is written
 *   (limits/append-limits.ts).
 * - Otherwise the batch is published as one message fenced on the subject's last
 *   stream sequence, so a concurrent writer anywhere makes exactly one of the two
 *   fail; the loser re-reads the log and lands in one of the cases above.
 *
 * With `tenant`, every state the loop decides on must belong to it (else NOT_FOUND,
 * as for a missing session): the write is fenced on the state that was checked,
 * so a session deleted and created again by another tenant in between fails the
 * fence, and its re-read fails the check.
 */
export async function appendEvents(
  ctx: StoreContext,
  sessionId: string,
  expectedLastSeqInput: bigint | number,
  input: readonly Event[],
  tenant?: string,
): Promise<AppendResult> {
  checkSessionId(sessionId);
  const expectedLastSeq = checkExpectedLastSeq(expectedLastSeqInput);
  checkAppendBatch(input);
  ctx.conn.assertReady();
  const subject = ctx.subjectOf(sessionId);
  const ids = input.map((e) => e.id);

  const load = async (): Promise<SessionState> => {
    const state = await ctx.cache.load(sessionId);
    if (!state) throw new SessionNotFoundError(sessionId);
    return state;
  };
  return ctx.withLock(sessionId, async () => {
    let state = ctx.cache.peek(sessionId) ?? (await load());
    let fresh = false;
    let admitted = false;
    // Each extra round needs another writer to have written in between; the
    // bound only turns a pathological storm into ABORTED instead of a spin.
    for (let round = 0; ; round++) {
      if (round === 10) throw new FencedError(sessionId, expectedLastSeqInput, state.lastSeq);
      if (!visibleTo(state, tenant)) {
        // A cached view may be of a session deleted since: decide on a fresh one.
        if (fresh) throw new SessionNotFoundError(sessionId);
        state = await load();
        fresh = true;
        continue;
      }
      const existing = findExisting(state, input);
      if (existing && !fresh) {
        // Answer with the log's current last seq, not a cached one.
        state = await load();
        fresh = true;
        continue;
      }
      if (existing) {
        // The first attempt may have died before indexing: make sure it is.
        ctx.index.write(sessionId, () => state.summary(), true);
        return existing;
      }
      if (state.lastSeq !== expectedLastSeq) {
        // The cached view may be behind the log; decide on a fresh one.
        if (!fresh) {
          state = await load();
          fresh = true;
          continue;
        }
        throw new FencedError(sessionId, expectedLastSeqInput, state.lastSeq);
      }
      const repeated = repeatedIntent(state, input);
      if (repeated) {
        // A cached view of a session deleted and created again since: decide on a fresh one.
        if (!fresh) {
          state = await load();
          fresh = true;
          continue;
        }
        throw new InvalidRequestError(repeated);
      }
      const time = timestampFromMs(Date.now());
      const events = input.map((event, i) => ({ ...event, seq: BigInt(expectedLastSeq + 1 + i), time }));
      const data = encodeBatch(events);
      // Limits apply only to what would be written: retries of a written batch
      // (answered above) and fenced writers (ABORTED) never reach them. The size
      // is checked on every round (the state is fresh after a fence); the rate
      // is charged once per call.
      try {
        ctx.limits.checkSize(state, events, data.length);
        if (!admitted) {
          ctx.limits.takeRate(sessionId, events.length);
          admitted = true;
        }
      } catch (err) {
        // A cached view may miss this very batch, written by a first attempt
        // whose ack was lost: refuse only on a fresh one.
        if (fresh) throw err;
        state = await load();
        fresh = true;
        continue;
      }
      const outcome = await fencedPublish(
        ctx,
        subject,
        data,
        batchMsgId(sessionId, expectedLastSeq, ids),
        state.lastStreamSeq,
        ids,
      );
      if (outcome.kind === "fenced" || outcome.kind === "duplicate") {
        // Someone (maybe our own lost first attempt) wrote since our view: re-read
        // the log and decide again; the loop ends in one of the cases above.
        state = await load();
        fresh = true;
        continue;
      }
      ctx.metrics.appended(events.length, outcome.size);
      ctx.cache.applyWritten(state, {
        streamSeq: outcome.streamSeq,
        size: outcome.size,
        wire: events.map((e) => wireFormOf(e) as Uint8Array),
        events,
      });
      const changesState = events.some((e) => e.payload.case === "sessionStatus");
      // State changes are indexed before the append returns (ListSessions by
      // state must see them); counters follow within the index's lazy delay.
      await ctx.index.write(sessionId, () => state.summary(), !changesState);
      return { events, lastSeq: state.lastSeq };
    }
  });
}

/** What is wrong when an intent of the batch names a tool_use id whose intent is already in the log. */
function repeatedIntent(state: SessionState, input: readonly Event[]): string | undefined {
  for (const [i, event] of input.entries()) {
    if (event.payload.case !== "agentToolUseStarted") continue;
    const toolUseId = event.payload.value.toolUseId;
    const seq = state.intentSeqOf(toolUseId);
    if (seq === undefined) continue;
    return `events[${i}] (id "${event.id}") is an agent.tool_use_started for tool_use "${toolUseId}", which the log already has at seq ${seq}: each tool call is started once, and tool_use ids are unique in a session`;
  }
  return undefined;
}

/** The originals when every id of the batch is already in the log. */
function findExisting(state: SessionState, input: readonly Event[]): AppendResult | undefined {
  const seqs = input.map((e) => state.seqOf(e.id));
  const present = seqs.filter((s) => s !== undefined).length;
  if (present === 0) return undefined;
  if (present < input.length) {
    const found = input.flatMap((e, i) => (seqs[i] === undefined ? [] : [`"${e.id}" (seq ${seqs[i]})`]));
    const missing = input.flatMap((e, i) => (seqs[i] === undefined ? [`"${e.id}"`] : []));
    throw new InvalidRequestError(
      `events ${found.join(", ")} are already in the log but ${missing.join(", ")} are not: a retry must resend exactly the same batch, and new events need new ids`,
    );
  }
  return { events: seqs.map((seq) => state.at(seq as number) as Event), lastSeq: state.lastSeq };
}
