import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PairPacer } from "./pair-pacing.js";

const options = { burst: 45, refillMs: 6_000, maxBackoffMs: 1_024_000 };

/**
 * Meta's pair rate limit as documented (reference §3.2), on Meta's own stamps: a send when the
 * debt is repaid starts a burst; up to `burst` sends within `windowMs` of its start borrow one
 * refill each; after that, 131056 until the debt is repaid.
 */
function metaReceiver(burst: number, refillMs: number, windowMs = refillMs) {
  let tat = Number.NEGATIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let count = 0;
  return (at: number): boolean => {
    if (tat <= at) {
      tat = at + refillMs;
      end = at + windowMs;
      count = 1;
      return true;
    }
    if (at < end && count < burst) {
      tat += refillMs;
      count++;
      return true;
    }
    return false;
  };
}

/**
 * One recipient's sends, one after another as the sender makes them: each waits for the pacer,
 * takes its token, reaches Meta `delays[i]` ms later (slot, socket, transit) and is answered
 * then. Returns the refusals and when the last send went.
 */
function run(
  p: PairPacer,
  delays: readonly number[],
  recordAnswers = true,
): { refused: number; lastAt: number } {
  const accept = metaReceiver(options.burst, options.refillMs);
  let now = 0;
  let refused = 0;
  for (const delay of delays) {
    now = p.nextAt("a", now);
    p.take("a", now);
    now += delay;
    if (accept(now)) p.accepted("a");
    else {
      refused++;
      p.paced("a", now);
    }
    if (recordAnswers) p.sent("a", now);
  }
  return { refused, lastAt: now };
}

describe("PairPacer (Meta's borrowing rule)", () => {
  it("lets a burst of 45 through, then nothing to that recipient until the burst is repaid (270 s); others keep flowing", () => {
    const p = new PairPacer(options);
    for (let i = 0; i < 45; i++) {
      expect(p.nextAt("a", 0)).toBe(0);
      p.take("a", 0);
      p.sent("a", 0);
    }
    // The token bucket this replaces allowed one more at 6 s; Meta refuses it (131056).
    expect(p.nextAt("a", 0)).toBe(270_000);
    expect(p.nextAt("a", 6_000)).toBe(270_000);
    expect(p.nextAt("a", 200_000)).toBe(270_000);
    expect(p.nextAt("b", 6_000)).toBe(6_000);
    // Repaid: a new burst may start.
    expect(p.nextAt("a", 270_000)).toBe(270_000);
  });

  it("a burst of 20 costs about two minutes of silence (Meta's example)", () => {
    const p = new PairPacer(options);
    for (let i = 0; i < 20; i++) {
      p.take("a", i * 100);
      p.sent("a", i * 100);
    }
    // Once the burst's window (6 s less the 1 s guard) has closed, the next send waits for the debt.
    expect(p.nextAt("a", 5_000)).toBe(120_000);
  });

  it("ends a burst when its window closes, less the guard for the transit", () => {
    const p = new PairPacer(options);
    p.take("a", 0);
    p.sent("a", 0);
    p.take("a", 3_000);
    p.sent("a", 3_000);
    // Inside the window (before 6 s less 1 s): a third send may join.
    expect(p.nextAt("a", 4_900)).toBe(4_900);
    // After it: the two sends' debt (12 s) first.
    expect(p.nextAt("a", 5_000)).toBe(12_000);
  });

  it("reckons the debt from Meta's count of a send, not from its token", () => {
    // The first send of each burst waits 400 ms between its token and Meta; the rest go at once.
    const delays = Array.from({ length: 200 }, (_, i) => (i % 60 === 0 ? 400 : 0));
    expect(run(new PairPacer(options), delays).refused).toBe(0);
    // Reckoning from the token instead, Meta refuses sends the pacer let through.
    expect(run(new PairPacer(options), delays, false).refused).toBeGreaterThan(0);
  });

  it("never gets a 131056 from Meta's rule when the transit stays within the guard, and keeps Meta's pace", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 300 }),
        (delays) => {
          const { refused, lastAt } = run(new PairPacer(options), delays);
          expect(refused).toBe(0);
          // No slower than one send per refill plus the transits, after the first burst.
          const transit = delays.reduce((a, b) => a + b, 0);
          expect(lastAt).toBeLessThanOrEqual(delays.length * options.refillMs + transit);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("backs off 4^x s on 131056 for that recipient only; an accepted send starts over", () => {
    const p = new PairPacer(options);
    expect(p.paced("a", 0)).toBe(1_000);
    expect(p.paced("a", 1_000)).toBe(5_000);
    expect(p.paced("a", 5_000)).toBe(21_000);
    expect(p.nextAt("a", 5_000)).toBeGreaterThanOrEqual(21_000);
    expect(p.nextAt("b", 5_000)).toBe(5_000);
    p.accepted("a");
    expect(p.paced("a", 30_000)).toBe(31_000);
  });

  it("caps the back-off", () => {
    const p = new PairPacer({ ...options, maxBackoffMs: 10_000 });
    let until = 0;
    for (let i = 0; i < 6; i++) until = p.paced("a", 0);
    expect(until).toBe(10_000);
  });

  it("a 131056 ends the burst: the refused send owes nothing, the accepted ones' debt and the back-off both hold", () => {
    const p = new PairPacer(options);
    p.take("a", 0);
    p.sent("a", 0);
    p.accepted("a");
    p.take("a", 100);
    p.sent("a", 100);
    p.paced("a", 100);
    expect(p.nextAt("a", 100)).toBe(6_000);
    const q = new PairPacer(options);
    q.take("a", 0);
    q.sent("a", 0);
    q.paced("a", 10);
    expect(q.nextAt("a", 10)).toBe(1_010);
  });

  it("gives a token back for a send that never happened, and forgets idle recipients", () => {
    const p = new PairPacer({ ...options, burst: 1 });
    p.take("a", 0);
    expect(p.nextAt("a", 0)).toBe(6_000);
    p.giveBack("a", 0);
    expect(p.nextAt("a", 0)).toBe(0);
    p.sweep(0);
    expect(p.size).toBe(0);
    p.take("a", 0);
    p.sent("a", 0);
    p.sweep(5_999);
    expect(p.size).toBe(1);
    p.sweep(6_000);
    expect(p.size).toBe(0);
  });
});

describe("PairPacer.seed (a new owner of the number)", () => {
  /**
   * An old owner sends `old` to one recipient (its own pacer, each send reaching Meta `delay` ms
   * after its call), loses the number at `handover`; a new owner seeds its pacer from the old
   * sends' call instants and sends `more` as soon as its pacer lets it. Returns Meta's refusals.
   */
  function handover(
    old: number,
    delay: number,
    handover: number,
    more: number,
    seed: boolean,
  ): { refused: number; calls: number[]; firstNewAt: number } {
    const accept = metaReceiver(options.burst, options.refillMs);
    const first = new PairPacer(options);
    const calls: number[] = [];
    let now = 0;
    let refused = 0;
    for (let i = 0; i < old && now < handover; i++) {
      now = first.nextAt("a", now);
      if (now >= handover) break;
      first.take("a", now);
      calls.push(now);
      if (accept(now + delay)) first.accepted("a");
      else refused++;
      first.sent("a", now + delay);
    }
    const second = new PairPacer(options);
    now = Math.max(now, handover);
    if (seed) second.seed("a", calls, now, 1_000);
    let firstNewAt = Number.NaN;
    for (let i = 0; i < more; i++) {
      now = second.nextAt("a", now);
      if (i === 0) firstNewAt = now;
      second.take("a", now);
      if (accept(now + delay)) second.accepted("a");
      else {
        refused++;
        second.paced("a", now + delay);
      }
      second.sent("a", now + delay);
    }
    return { refused, calls, firstNewAt };
  }

  it("a new owner mid-debt waits until the old owner's burst is repaid: no 131056 (without the seed: refused)", () => {
    // Ten sends in the first second, the number changes hands 8 s later (the burst's window
    // closed, its debt runs to about 60 s): the new owner's first send waits for it.
    const seeded = handover(10, 5, 8_000, 3, true);
    expect(seeded.refused).toBe(0);
    expect(seeded.firstNewAt).toBeGreaterThanOrEqual(10 * options.refillMs);
    // The promise broken on purpose: a new owner that knows nothing sends at once and Meta
    // refuses it.
    const blind = handover(10, 5, 8_000, 3, false);
    expect(blind.refused).toBeGreaterThan(0);
    expect(blind.firstNewAt).toBe(8_000);
  });

  it("old calls whose debt is repaid cost nothing, and seeding is idempotent", () => {
    const p = new PairPacer(options);
    expect(p.seed("a", [0, 100], 20_000, 1_000)).toBe(20_000);
    expect(p.size).toBe(0);
    expect(p.seed("a", [0, 100, 200], 5_000, 1_000)).toBe(1_000 + 3 * 6_000);
    expect(p.seed("a", [0, 100, 200], 5_000, 1_000)).toBe(1_000 + 3 * 6_000);
  });

  it("property: whatever the old owner sent and whenever it hands over, Meta refuses none of the new owner's sends", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 900 }),
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 1, max: 50 }),
        (old, delay, at, more) => {
          expect(handover(old, delay, at, more, true).refused).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
