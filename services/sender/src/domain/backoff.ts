export interface RetryPolicy {
  /** Calls at most per request for transient errors (the first one included). */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
};

/** Exponential back-off with full jitter: uniform in [d/2, d], d = initial * 2^(attempt-1), capped. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** First back-off of the whole number per throttling code (doubles per strike, capped). */
export const numberBackoffBaseMs: Readonly<Record<number, number>> = {
  130429: 1_000, // per-number throughput: back off quickly
  131057: 10_000, // maintenance (the 1,000 mps upgrade takes about a minute)
  4: 60_000, // app call rate
  80007: 60_000, // WABA call budget (per hour)
};

/**
 * Whole-number back-off on 130429, 4, 80007 and 131057: every send of the number waits until
 * `blockedUntil`; each strike doubles the wait, an accepted send starts over. A refusal of a call
 * made before the current back-off began is the same strike (at 1,000 msg/s dozens of calls are
 * on the wire when the first refusal comes back; counting each would block the number for
 * minutes). Pure.
 */
export class NumberBackoff {
  private strikes = 0;
  /** When the current back-off was decided: calls made before it belong to it. */
  private struckAt = Number.NEGATIVE_INFINITY;
  blockedUntil = 0;

  constructor(
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  /** `calledAt`: when the refused call was made (defaults to now: always a new strike). */
  throttled(code: number, now: number, calledAt: number = now): number {
    if (calledAt < this.struckAt) return this.blockedUntil;
    this.struckAt = now;
    const base = numberBackoffBaseMs[code] ?? 1_000;
    const ceiling = Math.min(this.maxMs, base * 2 ** this.strikes);
    this.strikes++;
    const delay = Math.round(ceiling * (0.75 + this.random() * 0.25));
    this.blockedUntil = Math.max(this.blockedUntil, now + delay);
    return this.blockedUntil;
  }

  accepted(): void {
    this.strikes = 0;
  }
}
