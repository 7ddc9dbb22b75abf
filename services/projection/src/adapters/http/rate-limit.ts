/** A token bucket per key id: `ratePerSecond` (0: unlimited), bursts up to `burst`. */
export function createRateLimiter({
  ratePerSecond,
  burst,
}: {
  ratePerSecond: number;
  burst: number;
}) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(id: string, nowMs: number): boolean {
      if (ratePerSecond === 0) return true;
      const b = buckets.get(id) ?? { tokens: burst, at: nowMs };
      const tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1_000) * ratePerSecond);
      const ok = tokens >= 1;
      buckets.set(id, { tokens: ok ? tokens - 1 : tokens, at: nowMs });
      return ok;
    },
  };
}
