/**
 * An unbounded push/pull queue bridging callbacks (NATS deltas, a pumped
 * stream) to one async iterator: the merge point of live streams such as log
 * events and text deltas. Ends on `end()`, rejects on `fail()`.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(item: T): void;
  /** No more items: iteration ends after what is queued. */
  end(): void;
  /** Iteration throws `err` after what is queued. */
  fail(err: unknown): void;
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  let closed = false;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  return {
    push(item) {
      if (closed) return;
      items.push(item);
      notify();
    },
    end() {
      closed = true;
      notify();
    },
    fail(err) {
      failure ??= { err };
      closed = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const item = items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (failure) throw failure.err;
        if (closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
