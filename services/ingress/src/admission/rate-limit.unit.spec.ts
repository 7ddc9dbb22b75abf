import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limit.js";

const takeMany = (
  limiter: ReturnType<typeof createRateLimiter>,
  key: string,
  n: number,
  at: number,
) => Array.from({ length: n }, () => limiter.take(key, at)).filter(Boolean).length;

describe("createRateLimiter", () => {
  it("allows a burst, then refuses until tokens refill at the rate", () => {
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 5 });
    expect(takeMany(limiter, "a", 8, 0)).toBe(5);
    expect(limiter.take("a", 50)).toBe(false);
    expect(limiter.take("a", 100)).toBe(true);
    expect(limiter.take("a", 100)).toBe(false);
    // A long pause refills only up to the burst.
    expect(takeMany(limiter, "a", 20, 60_000)).toBe(5);
  });

  it("keeps one bucket per key", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 2 });
    expect(takeMany(limiter, "a", 3, 0)).toBe(2);
    expect(takeMany(limiter, "b", 3, 0)).toBe(2);
  });

  it("holds the rate over a second: burst plus rate", () => {
    const limiter = createRateLimiter({ ratePerSecond: 100, burst: 10 });
    let allowed = 0;
    for (let t = 0; t < 1000; t++) allowed += takeMany(limiter, "a", 5, t);
    expect(allowed).toBeGreaterThanOrEqual(108);
    expect(allowed).toBeLessThanOrEqual(110);
  });

  it("does not refill when time goes backwards", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    expect(limiter.take("a", 10_000)).toBe(true);
    expect(limiter.take("a", 0)).toBe(false);
  });

  it("is off at rate 0", () => {
    const limiter = createRateLimiter({ ratePerSecond: 0, burst: 1 });
    expect(takeMany(limiter, "a", 1000, 0)).toBe(1000);
    expect(limiter.size).toBe(0);
  });

  it("bounds its memory by forgetting the least recently seen key", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 3 });
    for (const key of ["a", "b", "c"]) limiter.take(key, 0);
    limiter.take("a", 0); // a is now the most recent
    limiter.take("d", 0); // evicts b
    expect(limiter.size).toBe(3);
    expect(limiter.take("a", 0)).toBe(false);
    expect(limiter.take("b", 0)).toBe(true);
  });

  it("refuses impossible settings at construction", () => {
    expect(() => createRateLimiter({ ratePerSecond: -1, burst: 1 })).toThrow(/ratePerSecond/);
    expect(() => createRateLimiter({ ratePerSecond: 1, burst: 0 })).toThrow(/burst/);
    expect(() => createRateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 0 })).toThrow(/maxKeys/);
  });
});
