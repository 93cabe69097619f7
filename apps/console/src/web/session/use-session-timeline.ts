import { Code, ConnectError } from "@connectrpc/connect";
import type { Event, TextDelta } from "@reins/proto";
import { useEffect, useReducer, useState } from "react";
import { errorText, type Services } from "../services.js";
import { addDelta, addEvents, emptyTimeline, type TimelineState } from "../timeline/timeline-state.js";

type Action =
  | { readonly type: "events"; readonly events: readonly Event[] }
  | { readonly type: "delta"; readonly delta: TextDelta; readonly dropped: bigint };

function reduce(state: TimelineState, action: Action): TimelineState {
  return action.type === "events" ? addEvents(state, action.events) : addDelta(state, action.delta, action.dropped);
}

export interface SessionTimeline {
  readonly state: TimelineState;
  /** Why the event stream is down (it retries); undefined while it flows. */
  readonly eventsError: string | undefined;
  /** Why live text is unavailable; the timeline still shows every answer once recorded. */
  readonly textError: string | undefined;
}

// Errors a retry cannot cure: the session is gone, or this token may not see it.
const permanent = new Set([Code.NotFound, Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated]);

/**
 * The session's log replayed from the start, then followed live
 * (SessionService.StreamEvents), and the model's text as it streams
 * (HarnessService.StreamText). A broken stream reconnects after the last seq
 * it delivered, so the timeline has no gap; the reducer drops what it already
 * holds, so it has no duplicate either.
 */
export function useSessionTimeline(services: Services, sessionId: string): SessionTimeline {
  const [state, dispatch] = useReducer(reduce, emptyTimeline);
  const [eventsError, setEventsError] = useState<string>();
  const [textError, setTextError] = useState<string>();

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    // New clients (a token entered): what the old ones were refused no longer holds.
    setEventsError(undefined);
    setTextError(undefined);
    let afterSeq = 0n;
    // A replay delivers thousands of events back to back: they are added a batch per
    // macrotask, not one render each.
    let batch: Event[] = [];
    let flushing: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      flushing = undefined;
      const events = batch;
      batch = [];
      if (!signal.aborted) dispatch({ type: "events", events });
    };
    void retrying(signal, setEventsError, async () => {
      for await (const res of services.sessions.streamEvents({ sessionId, afterSeq }, { signal })) {
        setEventsError(undefined);
        if (!res.event) continue;
        if (res.event.seq > afterSeq) afterSeq = res.event.seq;
        batch.push(res.event);
        flushing ??= setTimeout(flush, 0);
      }
    });
    void retrying(signal, setTextError, async () => {
      for await (const res of services.harness.streamText({ sessionId }, { signal })) {
        setTextError(undefined);
        if (res.delta) dispatch({ type: "delta", delta: res.delta, dropped: res.dropped });
      }
    });
    return () => {
      abort.abort();
      clearTimeout(flushing);
    };
  }, [services, sessionId]);

  return { state, eventsError, textError };
}

/** Runs `follow` again whenever it ends or fails, backing off, until `signal` or a permanent error. */
async function retrying(
  signal: AbortSignal,
  onError: (message: string | undefined) => void,
  follow: () => Promise<void>,
): Promise<void> {
  let delayMs = 500;
  while (!signal.aborted) {
    try {
      await follow();
      delayMs = 500;
    } catch (err) {
      if (signal.aborted) return;
      const code = err instanceof ConnectError ? err.code : undefined;
      if (code !== undefined && permanent.has(code)) {
        onError(errorText(err));
        return;
      }
      onError(`${errorText(err)} (reconnecting)`);
    }
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}
