/**
 * Per-client token buckets: each key holds up to `burst` tokens, refilled at `ratePerSecond`;
 * a request takes one token or is refused. Time arrives as an input, so decisions are pure
 * functions of the calls made. Memory is bounded: past `maxKeys` the least recently seen key is
 * forgotten (it comes back with a full bucket, which only ever errs towards letting Meta in).
 */
export interface RateLimiter {
  /** Takes a token for `key` at `nowMs`; false means the request should be refused. */
  take(key: string, nowMs: number): boolean;
  /** How many keys are tracked now. */
  readonly size: number;
}

export interface RateLimiterOptions {
  /** Tokens added per second; 0 turns limiting off. */
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/** The tokens a bucket holds at `nowMs`: what it had plus the refill since, capped at `burst`. */
export function refill(
  bucket: Bucket,
  nowMs: number,
  ratePerSecond: number,
  burst: number,
): number {
  const elapsedMs = Math.max(0, nowMs - bucket.atMs);
  return Math.min(burst, bucket.tokens + (elapsedMs * ratePerSecond) / 1000);
}

export function createRateLimiter({
  ratePerSecond,
  burst,
  maxKeys = 100_000,
}: RateLimiterOptions): RateLimiter {
  if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0) {
    throw new RangeError(
      `createRateLimiter: ratePerSecond must be 0 (off) or positive, got ${ratePerSecond}`,
    );
  }
  if (ratePerSecond > 0 && (!Number.isFinite(burst) || burst < 1)) {
    throw new RangeError(`createRateLimiter: burst must be at least 1, got ${burst}`);
  }
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(`createRateLimiter: maxKeys must be a positive integer, got ${maxKeys}`);
  }
  const buckets = new Map<string, Bucket>();
  return {
    take(key, nowMs) {
      if (ratePerSecond === 0) return true;
      const known = buckets.get(key);
      const tokens = known === undefined ? burst : refill(known, nowMs, ratePerSecond, burst);
      const allowed = tokens >= 1;
      // Re-inserting keeps the Map in least-recently-seen order for eviction.
      buckets.delete(key);
      buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, atMs: nowMs });
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next();
        if (oldest.done !== true) buckets.delete(oldest.value);
      }
      return allowed;
    },
    get size() {
      return buckets.size;
    },
  };
}
