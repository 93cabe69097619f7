/**
 * Token buckets, one per key: each holds up to `burst` tokens and refills at
 * `perSecond`; taking n tokens either takes all n or none. Kept in memory, so
 * a limit built on it holds per process, and a restart starts every key full.
 */
export interface RateLimiter {
  /**
   * Takes `n` tokens from `key`'s bucket. Returns 0 when they were taken, or
   * the milliseconds until `n` will be there (nothing taken).
   */
  take(key: string, n: number): number;
  /** Number of buckets held (full buckets are dropped now and then). */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Takes between sweeps of full buckets: a full bucket is the same as none. */
const sweepEvery = 1024;

export function createRateLimiter(options: {
  perSecond: number;
  burst: number;
  /** Milliseconds; injectable for tests. Default `performance.now`. */
  now?: () => number;
}): RateLimiter {
  const { perSecond, burst } = options;
  const now = options.now ?? (() => performance.now());
  if (!(perSecond > 0) || !(burst >= 1)) throw new Error(`rate limiter needs perSecond > 0 and burst >= 1`);
  const buckets = new Map<string, Bucket>();
  let takes = 0;

  const refill = (bucket: Bucket, t: number) => {
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) * perSecond) / 1000);
    bucket.at = t;
  };

  const sweep = (t: number) => {
    for (const [key, bucket] of buckets) {
      refill(bucket, t);
      if (bucket.tokens >= burst) buckets.delete(key);
    }
  };

  return {
    take(key, n) {
      const t = now();
      if (++takes % sweepEvery === 0) sweep(t);
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: burst, at: t };
        buckets.set(key, bucket);
      }
      refill(bucket, t);
      if (bucket.tokens >= n) {
        bucket.tokens -= n;
        return 0;
      }
      if (n > burst) return Number.POSITIVE_INFINITY;
      return Math.max(1, Math.ceil(((n - bucket.tokens) * 1000) / perSecond));
    },
    get size() {
      return buckets.size;
    },
  };
}
