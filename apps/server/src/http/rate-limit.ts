import { RateLimited } from '@sightline/protocol';

export type RateLimiter = {
  /** Takes one token for `key`, or throws 429 `RATE_LIMITED` with the wait in seconds. */
  take(key: string): void;
};

/**
 * A token bucket per key (a project): `ratePerSecond` sustained, `burst` at once.
 * A rate of 0 turns limiting off.
 *
 * @example
 * const limiter = createRateLimiter({ ratePerSecond: 500, burst: 1000 });
 * limiter.take(projectId);
 */
export function createRateLimiter(options: { ratePerSecond: number; burst?: number; now?: () => number }): RateLimiter {
  const rate = options.ratePerSecond;
  const burst = options.burst ?? rate * 2;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      if (rate <= 0) return;
      const t = now();
      const bucket = buckets.get(key) ?? { tokens: burst, at: t };
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
      bucket.at = t;
      buckets.set(key, bucket);
      if (bucket.tokens < 1) {
        throw new RateLimited(Math.max(1, Math.ceil((1 - bucket.tokens) / rate)));
      }
      bucket.tokens -= 1;
      if (buckets.size > 100_000) buckets.delete(buckets.keys().next().value as string);
    },
  };
}
