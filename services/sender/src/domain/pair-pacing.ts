export interface PairPacingOptions {
  /** Messages a burst to one recipient may hold (Meta: 45 within 6 s). */
  readonly burst: number;
  /** The normal rate: one message per this many ms (Meta: one per 6 s). */
  readonly refillMs: number;
  /** Longest 131056 back-off (4^x s grows fast). */
  readonly maxBackoffMs: number;
  /** How long a burst may last from its first message, as Meta counts (default: `refillMs`). */
  readonly burstWindowMs?: number;
  /**
   * The part of the burst window left unused: a send taken near the window's end reaches Meta
   * later (slot, socket, transit) and must still be counted inside it. Default: 1 s, at most a
   * sixth of the window.
   */
  readonly guardMs?: number;
}

interface PairState {
  /**
   * When the recipient's debt is repaid at the latest: every send pushes it one `refillMs` past
   * max(tat, its instant), from the latest instant Meta can have counted it (`sent`).
   */
  tat: number;
  /** When the burst in progress began at the earliest (its first send's token). */
  burstStart: number;
  /** Sends taken in the burst in progress. */
  count: number;
  /** Sends taken and not yet called back by `sent` or `giveBack`, oldest first. */
  pending: {
    readonly tatBefore: number;
    readonly burstStartBefore: number;
    readonly countBefore: number;
  }[];
  /** 131056 answers since the last accepted send to this recipient. */
  strikes: number;
  blockedUntil: number;
}

/**
 * Pair pacing per (number, recipient), Meta's documented rule (reference §3.2): a burst of up to
 * `burst` sends within `burstWindowMs` borrows against future quota, and nothing more goes to
 * that recipient until the burst would have taken at one per `refillMs` (a burst of 45 buys about
 * 270 s of silence, a burst of 20 about two minutes). The pacer plans both: it lets a burst run
 * while its window lasts (less a guard for the transit) and then holds the recipient until the
 * debt is repaid, so Meta never has to answer 131056. Meta's count of a send lies between our
 * token and the call's answer: bursts are timed from the token (the earliest Meta can start
 * one), debts from the answer (the latest Meta can have counted it). On a 131056 all the same,
 * Meta's 4^x s back-off for that recipient alone. Pure: every call takes `now`.
 */
export class PairPacer {
  private readonly pairs = new Map<string, PairState>();
  private readonly windowMs: number;
  private readonly guardMs: number;

  constructor(private readonly options: PairPacingOptions) {
    if (!Number.isInteger(options.burst) || options.burst < 1)
      throw new RangeError("pair pacing burst must be a positive integer");
    if (!(options.refillMs > 0)) throw new RangeError("pair pacing refillMs must be positive");
    this.windowMs = options.burstWindowMs ?? options.refillMs;
    if (!(this.windowMs > 0)) throw new RangeError("pair pacing burstWindowMs must be positive");
    this.guardMs = options.guardMs ?? Math.min(1_000, this.windowMs / 6);
    if (!(this.guardMs >= 0 && this.guardMs < this.windowMs))
      throw new RangeError("pair pacing guardMs must be at least 0 and below burstWindowMs");
  }

  get size(): number {
    return this.pairs.size;
  }

  private state(recipient: string): PairState {
    let s = this.pairs.get(recipient);
    if (!s) {
      s = {
        tat: Number.NEGATIVE_INFINITY,
        burstStart: Number.NEGATIVE_INFINITY,
        count: 0,
        pending: [],
        strikes: 0,
        blockedUntil: 0,
      };
      this.pairs.set(recipient, s);
    }
    return s;
  }

  /** Whether a send at `now` joins the burst in progress (its window, less the guard, still open). */
  private joins(s: PairState, now: number): boolean {
    return (
      s.count > 0 &&
      s.count < this.options.burst &&
      now < s.burstStart + this.windowMs - this.guardMs &&
      s.tat > now
    );
  }

  /** When the next message to `recipient` may go (>= now). */
  nextAt(recipient: string, now: number): number {
    const s = this.pairs.get(recipient);
    if (!s) return now;
    const allowed = this.joins(s, now) ? now : Math.max(now, s.tat);
    return Math.max(allowed, s.blockedUntil);
  }

  /** Takes the send happening at `now`: it joins the burst in progress or starts one. */
  take(recipient: string, now: number): void {
    const s = this.state(recipient);
    s.pending.push({ tatBefore: s.tat, burstStartBefore: s.burstStart, countBefore: s.count });
    if (!this.joins(s, now)) {
      s.burstStart = now;
      s.count = 0;
    }
    s.count++;
    s.tat = Math.max(s.tat, now) + this.options.refillMs;
  }

  /**
   * The oldest taken send was counted by Meta at `at` at the latest (its answer, less the rate
   * margin). Meta's debt grows from its count of each send, so the debt is reckoned from `at`:
   * that send and every one taken after it add one refill each from there. Otherwise a burst
   * whose first send waited (slot, socket, transit) would be thought repaid before Meta's is.
   */
  sent(recipient: string, at: number): void {
    const s = this.pairs.get(recipient);
    if (!s) return;
    const after = s.pending.length;
    s.pending.shift();
    s.tat = Math.max(s.tat, at + Math.max(1, after) * this.options.refillMs);
  }

  /**
   * Sends to `recipient` that another owner of the number made (a rebalance, a restart): their
   * call instants (`calledAt`, from the attempt store), each counted by Meta at most `transitMs`
   * later. Meta's debt after them is at most max over each send of its latest count plus one
   * `refillMs` for it and every later one (a burst's debt runs from its first send), whatever
   * bursts they formed. When that is later than what this pacer knows, nothing more goes to the
   * recipient until then: the burst in progress (if any) is closed. Calls this pacer made itself
   * may be among them; counting them again only delays. Returns when the recipient is free.
   */
  seed(recipient: string, calledAt: readonly number[], now: number, transitMs: number): number {
    const times = [...calledAt].sort((a, b) => a - b);
    let tat = Number.NEGATIVE_INFINITY;
    times.forEach((t, i) => {
      tat = Math.max(tat, t + transitMs + (times.length - i) * this.options.refillMs);
    });
    if (tat <= now) return this.nextAt(recipient, now);
    const s = this.state(recipient);
    if (tat > s.tat) {
      s.tat = tat;
      s.count = this.options.burst;
    }
    return this.nextAt(recipient, now);
  }

  /** The send went through: the back-off exponent starts over. */
  accepted(recipient: string): void {
    const s = this.pairs.get(recipient);
    if (s) s.strikes = 0;
  }

  /** The latest taken send never happened (refused before Meta counted it, or cancelled). */
  giveBack(recipient: string, _now: number): void {
    const s = this.pairs.get(recipient);
    const undo = s?.pending.pop();
    if (!s || !undo) return;
    s.tat = undo.tatBefore;
    s.burstStart = undo.burstStartBefore;
    s.count = undo.countBefore;
  }

  /**
   * Meta answered 131056 to the latest send: its count differs from ours (another sender on the
   * number, or a transit longer than the guard). The refused send owes nothing; the burst ends,
   * and the recipient waits for the debt of the sends Meta took and 4^x s (x = earlier strikes),
   * whichever is later.
   */
  paced(recipient: string, now: number): number {
    const s = this.state(recipient);
    const delay = Math.min(this.options.maxBackoffMs, 1_000 * 4 ** s.strikes);
    s.strikes++;
    s.tat -= this.options.refillMs;
    s.count = this.options.burst;
    s.blockedUntil = now + delay;
    return s.blockedUntil;
  }

  /** Drops recipients whose debt is repaid with no back-off or send out: memory follows active pairs. */
  sweep(now: number): void {
    for (const [recipient, s] of this.pairs) {
      if (s.tat <= now && s.blockedUntil <= now && s.strikes === 0 && s.pending.length === 0)
        this.pairs.delete(recipient);
    }
  }
}
