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

/**
 * How long a whole-number hold waits before its first probe, per code, and how much longer each
 * further refusal makes it (capped by the number's maximum). 131057 is Meta's maintenance (the
 * throughput upgrade takes about a minute): probed every few seconds rather than doubling into
 * minutes; 4 and 80007 are hourly budgets.
 */
export const holdScheduleByCode: Readonly<
  Record<number, { readonly firstMs: number; readonly factor: number }>
> = {
  130429: { firstMs: 1_000, factor: 2 }, // per-number throughput: back off quickly
  131057: { firstMs: 5_000, factor: 1.5 }, // maintenance, about a minute
  4: { firstMs: 60_000, factor: 2 }, // the app's call rate
  80007: { firstMs: 60_000, factor: 2 }, // the WABA's hourly call budget
};

/** Whether a call may start now while a number is held (pure: `now` is an input). */
export type HoldAdmission =
  | { readonly kind: "go" }
  /** The hold's one probe: the first waiter calls, the others wait for its answer. */
  | { readonly kind: "probe" }
  | { readonly kind: "wait"; readonly untilMs: number }
  /** A probe is out: wait for its answer. */
  | { readonly kind: "blocked" };

/**
 * A whole-number hold (130429, 4, 80007, 131057): the number refuses sends for a while, so no
 * request of it is called until Graph takes sends again. After the hold's wait, ONE call goes
 * (the probe); the number's other sends wait for its answer: a refusal with a hold code holds
 * again, longer (per code, up to `maxMs`, jittered); any other answer ends the hold. A refusal of
 * a call made before the current hold began is the same strike (at 1,000 msg/s dozens of calls
 * are on the wire when the first refusal comes back), and its answer ends nothing.
 */
export class NumberHold {
  private strikes = 0;
  /** When the current hold was decided: calls made before it belong to it. */
  private struckAt = Number.NEGATIVE_INFINITY;
  private holdCode: number | undefined;
  private untilMs = 0;
  private probeOut = false;

  constructor(
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  /** The code holding the number, or undefined when it sends freely. */
  get code(): number | undefined {
    return this.holdCode;
  }

  /** No call before this (epoch ms; 0 when not held). */
  get until(): number {
    return this.untilMs;
  }

  /** A hold-code refusal of the call made at `calledAt` (defaults to now: a new strike). */
  refused(code: number, now: number, calledAt: number = now): number {
    this.probeOut = false;
    if (calledAt < this.struckAt && this.holdCode !== undefined) return this.untilMs;
    this.struckAt = now;
    const { firstMs, factor } = holdScheduleByCode[code] ?? { firstMs: 1_000, factor: 2 };
    const ceiling = Math.min(this.maxMs, firstMs * factor ** this.strikes);
    this.strikes++;
    this.holdCode = code;
    const delay = Math.round(ceiling * (0.75 + this.random() * 0.25));
    this.untilMs = Math.max(this.untilMs, now + delay);
    return this.untilMs;
  }

  admit(now: number): HoldAdmission {
    if (this.holdCode === undefined) return { kind: "go" };
    if (this.probeOut) return { kind: "blocked" };
    if (this.untilMs > now) return { kind: "wait", untilMs: this.untilMs };
    return { kind: "probe" };
  }

  /** The probe admitted last is on its way. */
  probeStarted(): void {
    this.probeOut = true;
  }

  /** The probe was not made after all (its slot was cancelled): the next waiter probes. */
  probeCancelled(): void {
    this.probeOut = false;
  }

  /**
   * Graph answered the call made at `calledAt` with anything but a hold code. Returns the code
   * of the hold this ends, or undefined (none, or an answer to a call made before it began).
   */
  answered(calledAt: number): number | undefined {
    if (this.holdCode === undefined) {
      this.strikes = 0;
      return undefined;
    }
    if (calledAt < this.struckAt) return undefined;
    const ended = this.holdCode;
    this.holdCode = undefined;
    this.strikes = 0;
    this.untilMs = 0;
    this.probeOut = false;
    return ended;
  }
}
