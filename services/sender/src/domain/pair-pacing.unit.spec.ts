import { describe, expect, it } from "vitest";
import { PairPacer } from "./pair-pacing.js";

const options = { burst: 45, refillMs: 6_000, maxBackoffMs: 1_024_000 };

/**
 * Meta's pair pacing as the simulator applies it, on its own stamps: a send stamped at `at` is
 * refused (131056) when the recipient's theoretical arrival time runs more than burst - 1
 * refills ahead of it.
 */
function receiver(burst: number, refillMs: number) {
  let tat = Number.NEGATIVE_INFINITY;
  return (at: number): boolean => {
    const base = Math.max(at, tat);
    if (base - at > (burst - 1) * refillMs) return false;
    tat = base + refillMs;
    return true;
  };
}

/**
 * One recipient's sends, one after another as the sender makes them: each waits for the pacer,
 * takes its token, reaches Meta `delays[i]` ms later (slot wait, socket, transit) and is answered
 * then. Returns how many the receiver refused.
 */
function refusedWhenDelayed(delays: readonly number[], recordAnswers: boolean): number {
  const p = new PairPacer(options);
  const accept = receiver(options.burst, options.refillMs);
  let now = 0;
  let refused = 0;
  for (const delay of delays) {
    now = p.nextAt("a", now);
    p.take("a", now);
    now += delay;
    if (!accept(now)) refused++;
    if (recordAnswers) p.sent("a", now);
  }
  return refused;
}

describe("PairPacer", () => {
  it("lets a burst of 45 through, then one per 6 s", () => {
    const p = new PairPacer(options);
    for (let i = 0; i < 45; i++) {
      expect(p.nextAt("a", 0)).toBe(0);
      p.take("a", 0);
    }
    expect(p.nextAt("a", 0)).toBe(6_000);
    expect(p.nextAt("a", 3_000)).toBe(6_000);
    p.take("a", 6_000);
    expect(p.nextAt("a", 6_000)).toBe(12_000);
  });

  it("refills from Meta's count of a send, not from the token: a slow first send does not let the burst's end arrive early", () => {
    // The first send of each burst waits 400 ms between its token and Meta; the rest go at once.
    const delays = Array.from({ length: 200 }, (_, i) => (i % 60 === 0 ? 400 : 0));
    expect(refusedWhenDelayed(delays, true)).toBe(0);
    // Refilling from the token instead, the receiver refuses sends that the pacer let through.
    expect(refusedWhenDelayed(delays, false)).toBeGreaterThan(0);
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

  it("gives a token back for a send that never happened, and forgets idle recipients", () => {
    const p = new PairPacer({ ...options, burst: 1 });
    p.take("a", 0);
    expect(p.nextAt("a", 0)).toBe(6_000);
    p.giveBack("a", 0);
    expect(p.nextAt("a", 0)).toBe(0);
    p.sweep(0);
    expect(p.size).toBe(0);
  });
});
