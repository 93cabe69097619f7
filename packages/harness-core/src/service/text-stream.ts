import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StreamTextResponseSchema, TextDelta } from "@reins/proto";
import type { DeltaBus } from "../model/index.js";

/**
 * Deltas held for one reader that has not taken them yet. Past this, newer
 * deltas are dropped (and counted) rather than queued: the model never waits
 * for a viewer, and a stalled browser tab costs at most this much memory.
 */
export const TEXT_STREAM_BACKLOG = 256;

export interface TextStreamOptions {
  readonly deltas: DeltaBus;
  readonly sessionId: string;
  /** The reader left, or the harness is closing. */
  readonly signal: AbortSignal;
  readonly backlog?: number;
}

/**
 * A session's live text from the delta bus, from now until `signal`: every
 * replica publishes there, so the reader sees the session wherever it runs.
 * Each item says how many deltas were dropped just before it.
 */
export async function* streamText(
  options: TextStreamOptions,
): AsyncGenerator<MessageInitShape<typeof StreamTextResponseSchema>> {
  const limit = options.backlog ?? TEXT_STREAM_BACKLOG;
  const backlog: { delta: TextDelta; dropped: bigint }[] = [];
  let lost = 0n;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const unsubscribe = await options.deltas.subscribe(options.sessionId, (delta) => {
    if (backlog.length >= limit) {
      lost++;
      return;
    }
    backlog.push({ delta, dropped: lost });
    lost = 0n;
    notify();
  });
  options.signal.addEventListener("abort", notify, { once: true });
  try {
    while (!options.signal.aborted) {
      const next = backlog.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    options.signal.removeEventListener("abort", notify);
    unsubscribe();
  }
}
