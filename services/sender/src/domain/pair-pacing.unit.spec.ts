import { describe, expect, it } from "vitest";
import { PairPacer } from "./pair-pacing.js";

const options = { burst: 45, refillMs: 6_000, maxBackoffMs: 1_024_000 };

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
