/**
 * Serializes work per key (per session): appends to one session run one at a
 * time in this process, while different sessions proceed in parallel. Across
 * processes the JetStream fence does the same job; this only spares a local
 * loser the round trip.
 */
export function createKeyedMutex() {
  const tails = new Map<string, Promise<void>>();
  return async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
