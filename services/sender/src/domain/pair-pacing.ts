export interface PairPacingOptions {
  /** Messages a recipient may get at once (Meta: 45 within 6 s). */
  readonly burst: number;
  /** One message more per this many ms (Meta: one per 6 s). */
  readonly refillMs: number;
  /** Longest 131056 back-off (4^x s grows fast). */
  readonly maxBackoffMs: number;
}

interface PairState {
  tokens: number;
  at: number;
  /** 131056 answers since the last accepted send to this recipient. */
  strikes: number;
  blockedUntil: number;
}

/**
 * Pair pacing per (number, recipient): a token bucket (capacity `burst`, one token per
 * `refillMs`), and on 131056 Meta's 4^x s back-off for that recipient alone, with its bucket
 * emptied (a burst borrows against future quota). Pure: every call takes `now`.
 */
export class PairPacer {
  private readonly pairs = new Map<string, PairState>();

  constructor(private readonly options: PairPacingOptions) {
    if (!Number.isInteger(options.burst) || options.burst < 1)
      throw new RangeError("pair pacing burst must be a positive integer");
    if (!(options.refillMs > 0)) throw new RangeError("pair pacing refillMs must be positive");
  }

  get size(): number {
    return this.pairs.size;
  }

  private state(recipient: string, now: number): PairState {
    let s = this.pairs.get(recipient);
    if (!s) {
      s = { tokens: this.options.burst, at: now, strikes: 0, blockedUntil: 0 };
      this.pairs.set(recipient, s);
    }
    if (now > s.at) {
      s.tokens = Math.min(this.options.burst, s.tokens + (now - s.at) / this.options.refillMs);
      s.at = now;
    }
    return s;
  }

  /** When the next message to `recipient` may go (>= now). */
  nextAt(recipient: string, now: number): number {
    const s = this.state(recipient, now);
    const tokenAt = s.tokens >= 1 ? now : now + Math.ceil((1 - s.tokens) * this.options.refillMs);
    return Math.max(tokenAt, s.blockedUntil);
  }

  /** Takes the token for a send happening now. */
  take(recipient: string, now: number): void {
    const s = this.state(recipient, now);
    s.tokens -= 1;
  }

  /**
   * The send that took a token was counted by Meta at `at` at the latest (its answer, less the
   * rate margin), which may be well after the token was taken: the slot wait, a free socket and
   * the transit come in between. Meta's bucket refills from its count of the send, so this one
   * refills from `at` on too: otherwise a bucket full when a burst began would refill during the
   * first send's own wait and let the burst's last send arrive early (131056).
   */
  sent(recipient: string, at: number): void {
    const s = this.pairs.get(recipient);
    if (s && at > s.at) s.at = at;
  }

  /** The send went through: the back-off exponent starts over. */
  accepted(recipient: string): void {
    const s = this.pairs.get(recipient);
    if (s) s.strikes = 0;
  }

  /** A send that took a token never happened (refused before Meta counted it, or cancelled). */
  giveBack(recipient: string, now: number): void {
    const s = this.state(recipient, now);
    s.tokens = Math.min(this.options.burst, s.tokens + 1);
  }

  /** Meta answered 131056: wait 4^x s (x = earlier strikes) for this recipient only. */
  paced(recipient: string, now: number): number {
    const s = this.state(recipient, now);
    const delay = Math.min(this.options.maxBackoffMs, 1_000 * 4 ** s.strikes);
    s.strikes++;
    s.tokens = 0;
    s.blockedUntil = now + delay;
    return s.blockedUntil;
  }

  /** Drops recipients back at a full bucket with no back-off: memory follows active pairs. */
  sweep(now: number): void {
    for (const [recipient, s] of this.pairs) {
      const full = s.tokens + (now - s.at) / this.options.refillMs >= this.options.burst;
      if (full && s.blockedUntil <= now && s.strikes === 0) this.pairs.delete(recipient);
    }
  }
}
