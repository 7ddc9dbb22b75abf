import { describe, expect, it } from "vitest";
import { NumberBackoff, retryDelayMs } from "./backoff.js";

describe("retryDelayMs", () => {
  const policy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
  it("doubles per attempt with jitter in [d/2, d], capped", () => {
    expect(retryDelayMs(policy, 1, () => 0)).toBe(50);
    expect(retryDelayMs(policy, 1, () => 1)).toBe(100);
    expect(retryDelayMs(policy, 3, () => 1)).toBe(400);
    expect(retryDelayMs(policy, 10, () => 1)).toBe(1_000);
  });
});

describe("NumberBackoff", () => {
  it("blocks the whole number, longer on each strike, per code, until an accepted send", () => {
    const b = new NumberBackoff(300_000, () => 1);
    expect(b.throttled(130429, 0)).toBe(1_000);
    expect(b.throttled(130429, 1_000)).toBe(3_000);
    b.accepted();
    expect(b.throttled(80007, 10_000)).toBe(70_000);
    expect(b.throttled(131057, 10_000)).toBe(70_000);
  });

  it("counts refusals of calls made before the back-off began as the same strike", () => {
    const b = new NumberBackoff(300_000, () => 1);
    expect(b.throttled(130429, 1_000, 990)).toBe(2_000);
    // Calls made at 995 and 999 were on the wire already: no longer wait.
    expect(b.throttled(130429, 1_003, 995)).toBe(2_000);
    expect(b.throttled(130429, 1_004, 999)).toBe(2_000);
    // A call made after the back-off began and refused again: the next strike doubles.
    expect(b.throttled(130429, 2_010, 2_001)).toBe(4_010);
  });
});
