import { EventView } from "./event-view.js";
import type { LiveText, TimelineState } from "./timeline-state.js";

/**
 * A session's events in seq order, then the answer streaming now. `targetSeq`
 * is the event a deep link (`#seq-42`) points at, highlighted.
 */
export function Timeline({ state, targetSeq }: { state: TimelineState; targetSeq?: bigint | undefined }) {
  return (
    <ol className="timeline">
      {state.events.map((event) => (
        <EventView key={String(event.seq)} event={event} targeted={event.seq === targetSeq} />
      ))}
      {state.live && <LiveAnswer live={state.live} />}
    </ol>
  );
}

function LiveAnswer({ live }: { live: LiveText }) {
  return (
    <li className="event live" data-testid="live-text" aria-live="polite">
      <div className="event-head">
        <span className="seq">…</span>
        <span className="type">streaming</span>
        <span className="meta">
          turn {live.turn}
          {live.attempt > 1 && `, attempt ${live.attempt}`}
        </span>
      </div>
      <div className="event-body">
        {live.blocks.map((b) =>
          b.thinking ? (
            <p key={b.index} className="message thinking">
              {b.text}
            </p>
          ) : (
            <p key={b.index} className="message agent">
              {b.text}
            </p>
          ),
        )}
        {live.dropped > 0n && (
          <p className="meta">
            ({String(live.dropped)} pieces skipped while this page read slowly; the full answer follows)
          </p>
        )}
      </div>
    </li>
  );
}
