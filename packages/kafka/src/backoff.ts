export interface RetryPolicy {
  /** Attempts in all, the first included, for a `bounded` failure; then the dead-letter topic. */
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  /**
   * The longest wait between tries of an `outage` failure (a dependency unavailable), which is
   * retried without bound: the record is fine, so it waits where it is.
   */
  readonly maxOutageDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  factor: 2,
  maxOutageDelayMs: 30_000,
};

/** Exponential back-off with full jitter: a uniform delay in [0, min(max, initial * factor^(n-1))]. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1),
  );
  return Math.round(ceiling * random());
}

/**
 * The wait before the next try of an outage: doubling from the initial delay up to
 * `maxOutageDelayMs`, with the upper half jittered so many waiting keys do not retry in step.
 */
export function outageDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxOutageDelayMs,
    policy.initialDelayMs * policy.factor ** Math.min(Math.max(0, attempt - 1), 30),
  );
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
