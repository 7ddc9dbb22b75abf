/**
 * An exact sliding-window log: no window of `windowMs` ever holds more than `limit` sends.
 * A token bucket with burst N and refill N/s lets 2N through in some one-second window; this
 * does not. Sends are reserved first (a reservation counts as a send happening now or later)
 * and completed with the instant of the call, so the log holds real call times, in any order.
 */
export class SlidingWindowLog {
  /** Call times of completed sends, ascending; only those still able to matter are kept. */
  private readonly times: number[] = [];
  private outstanding = 0;
  private window: number;
  private max: number;
  /** Call times kept: the highest limit ever set, so a limit raised again is exact too. */
  private keep: number;

  constructor(limit: number, windowMs: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    this.window = windowMs;
    this.max = limit;
    this.keep = limit;
  }

  get limit(): number {
    return this.max;
  }

  /**
   * A new limit from now on, exact across the change. Only the latest `limit` call times decide
   * the next slot, and the log keeps the latest of the highest limit ever set: no window ever
   * held more than that, so every time it dropped is out of the window. Under a raised limit no
   * window holds more than the new limit; under a lowered one the next send waits until fewer
   * than the new limit are in the window.
   */
  setLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    this.max = limit;
    this.keep = Math.max(this.keep, limit);
  }

  get reserved(): number {
    return this.outstanding;
  }

  get windowMs(): number {
    return this.window;
  }

  /** Lengthens the window (never shortens it: a shorter one could let more through). */
  widen(windowMs: number): void {
    this.window = Math.max(this.window, windowMs);
  }

  /** Shortens the window to `windowMs` (never lengthens it); the caller keeps it at least 1 s. */
  narrow(windowMs: number): void {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    this.window = Math.min(this.window, windowMs);
  }

  /**
   * The earliest instant at or after `now` when one more send fits, or undefined when
   * reservations alone fill the window (wait for one to complete or be cancelled).
   */
  nextAt(now: number): number | undefined {
    this.prune(now);
    if (this.outstanding >= this.limit) return undefined;
    // Sends in (now - windowMs, now] plus reservations must stay below the limit.
    const excess = this.outstanding + this.times.length - this.limit + 1;
    if (excess <= 0) return now;
    const t = this.times[excess - 1];
    return t === undefined ? now : Math.max(now, t + this.windowMs);
  }

  /** Takes a slot; the caller checked `nextAt(now) === now` (or accepts the overshoot). */
  reserve(): void {
    this.outstanding++;
  }

  /** The reserved send happened at `at` (the call instant). */
  complete(at: number): void {
    if (this.outstanding > 0) this.outstanding--;
    let i = this.times.length;
    while (i > 0 && (this.times[i - 1] ?? 0) > at) i--;
    this.times.splice(i, 0, at);
    if (this.times.length > this.keep) this.times.splice(0, this.times.length - this.keep);
  }

  /** The reserved send did not happen. */
  cancel(): void {
    if (this.outstanding > 0) this.outstanding--;
  }

  /** Sends another owner made (read from the attempt store when a number is newly assigned). */
  seed(times: readonly number[]): void {
    for (const t of times) {
      this.outstanding++;
      this.complete(t);
    }
  }

  private prune(now: number): void {
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? 0) <= now - this.windowMs) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}

export interface NumberRateOptions {
  /** The number's cap in messages per second (80 default, 20 coexistence, up to 1,000). */
  readonly mps: number;
  /**
   * Added to the one-second window, and the transit a send may take before its slot is held
   * longer (see `NumberRate`): an answer within the margin leaves the call instant in the log.
   */
  readonly marginMs: number;
  /**
   * Spreads the sends on an even schedule (one per (1,000 + margin) / mps ms), letting a send go
   * up to this much ahead of its place so a late timer does not lose time; 0 turns it off.
   */
  readonly smoothingMs: number;
}

/**
 * An even schedule (GCRA): each slot is one interval after the previous slot's scheduled
 * instant, not after the real call, so a wake-up that comes late (a busy event loop) is caught
 * up by the next slots instead of slipping the whole schedule. A send may go up to `toleranceMs`
 * before its place. Spreading only: the exact one-second log is what guarantees the cap.
 */
export class EvenSchedule {
  private tat = Number.NEGATIVE_INFINITY;

  constructor(
    public intervalMs: number,
    readonly toleranceMs: number,
  ) {
    if (!(intervalMs > 0)) throw new RangeError("intervalMs must be positive");
    if (toleranceMs < 0) throw new RangeError("toleranceMs must not be negative");
  }

  nextAt(now: number): number {
    return Math.max(now, this.tat - this.toleranceMs);
  }

  reserve(slotAt: number): void {
    this.tat = Math.max(this.tat, slotAt) + this.intervalMs;
  }
}

/**
 * The per-number rate: the exact one-second log (plus margin) and an even schedule that spreads
 * the sends. A slot may be reserved a little ahead (`leadMs`) so the wait before the call
 * overlaps other work; the call must not start before the slot's instant.
 *
 * The log is causal, so the cap holds on the receiver's clock whatever the transit: Meta
 * counts a send when it stamps it, somewhere between our call and our reading of its answer.
 * Each send is recorded at e = max(call, answer - margin), so its stamp is at most one margin
 * after e; the log starts the `limit`-th later call no sooner than e + 1 s + margin, after that
 * stamp plus a second. A call still out counts as a send now or later (a reservation). Transit
 * within the margin costs nothing; a slower answer holds its slot that much longer, which is
 * the price of never letting a busy network or receiver bunch arrivals over the cap.
 */
export class NumberRate {
  private readonly log: SlidingWindowLog;
  private readonly schedule: EvenSchedule | undefined;
  private margin: number;

  constructor({ mps, marginMs, smoothingMs }: NumberRateOptions) {
    if (!Number.isInteger(mps) || mps < 1 || mps > 1_000)
      throw new RangeError(`mps must be an integer from 1 to 1000, got ${mps}`);
    if (marginMs < 0) throw new RangeError("marginMs must not be negative");
    if (smoothingMs < 0) throw new RangeError("smoothingMs must not be negative");
    this.margin = marginMs;
    this.log = new SlidingWindowLog(mps, 1_000 + marginMs);
    this.schedule =
      smoothingMs > 0 ? new EvenSchedule((1_000 + marginMs) / mps, smoothingMs) : undefined;
  }

  get marginMs(): number {
    return this.margin;
  }

  /**
   * The receiver counted more than the cap in a second where this log counted at most the cap,
   * which the causal log rules out for our own sends: something else sent on the number, or the
   * receiver's clock runs differently. Widens the margin by `stepMs`, up to `maxMs` (the rate
   * ceiling becomes mps x 1,000 / (1,000 + max(margin, round trip))).
   */
  widenMargin(stepMs: number, maxMs: number): void {
    const next = Math.min(maxMs, this.margin + stepMs);
    if (next <= this.margin) return;
    this.margin = next;
    this.log.widen(1_000 + next);
    if (this.schedule) this.schedule.intervalMs = (1_000 + next) / this.log.limit;
  }

  /**
   * The margin relaxes by `stepMs`, down to `minMs` (the configured margin), after a quiet spell
   * with no 130429: a widening caused by a passing cause does not cost the cap forever. The
   * window stays at least one second plus `minMs`, so the cap holds on this clock.
   */
  narrowMargin(stepMs: number, minMs: number): void {
    const next = Math.max(minMs, this.margin - stepMs);
    if (next >= this.margin) return;
    this.margin = next;
    this.log.narrow(1_000 + next);
    if (this.schedule) this.schedule.intervalMs = (1_000 + next) / this.log.limit;
  }

  /** The number's cap in messages per second. */
  get mps(): number {
    return this.log.limit;
  }

  /**
   * A new cap from now on (Meta upgraded or downgraded the number): the exact log keeps "no
   * one-second window over the cap" across the change, and the even schedule takes the new
   * interval from the next slot on.
   */
  setMps(mps: number): void {
    if (!Number.isInteger(mps) || mps < 1 || mps > 1_000)
      throw new RangeError(`mps must be an integer from 1 to 1000, got ${mps}`);
    this.log.setLimit(mps);
    if (this.schedule) this.schedule.intervalMs = (1_000 + this.margin) / mps;
  }

  nextAt(now: number): number | undefined {
    const next = this.log.nextAt(now);
    if (next === undefined) return undefined;
    return this.schedule ? Math.max(next, this.schedule.nextAt(now)) : next;
  }

  /**
   * Reserves the next slot if it starts within `leadMs`: `{ slotAt }` (call at or after it),
   * `{ retryAt }` (ask again then) or `{ blocked }` (wait for a reserved call to complete).
   */
  tryReserve(
    now: number,
    leadMs: number,
  ): { readonly slotAt: number } | { readonly retryAt: number } | { readonly blocked: true } {
    const next = this.nextAt(now);
    if (next === undefined) return { blocked: true };
    if (next > now + leadMs) return { retryAt: next - leadMs };
    this.log.reserve();
    this.schedule?.reserve(next);
    return { slotAt: next };
  }

  /**
   * The reserved send was called at `callAt` and answered (or given up on) at `answeredAt`, both
   * read on this clock no earlier than they happened; the log keeps max(callAt, answeredAt -
   * margin) (see the class comment), and that instant is returned: the latest Meta can have
   * counted the send.
   */
  complete(callAt: number, answeredAt: number = callAt): number {
    const countedBy = Math.max(callAt, answeredAt - this.margin);
    this.log.complete(countedBy);
    return countedBy;
  }

  /** The slot went unused: the exact log forgets it (the schedule keeps its place; harmless). */
  cancel(): void {
    this.log.cancel();
  }

  /**
   * Calls another owner made (their recorded call instants), read at `now`. When they were
   * answered is not known here, so each counts as if answered at `now`: from no earlier than
   * `now - margin`. A call of a crashed owner still on its way after `now` is the one receipt
   * this cannot bound.
   */
  seed(times: readonly number[], now: number): void {
    this.log.seed(times.map((t) => Math.max(t, now - this.margin)));
  }
}
