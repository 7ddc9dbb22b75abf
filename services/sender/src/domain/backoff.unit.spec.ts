import { describe, expect, it } from "vitest";
import { NumberHold, retryDelayMs } from "./backoff.js";

describe("retryDelayMs", () => {
  const policy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
  it("doubles per attempt with jitter in [d/2, d], capped", () => {
    expect(retryDelayMs(policy, 1, () => 0)).toBe(50);
    expect(retryDelayMs(policy, 1, () => 1)).toBe(100);
    expect(retryDelayMs(policy, 3, () => 1)).toBe(400);
    expect(retryDelayMs(policy, 10, () => 1)).toBe(1_000);
  });
});

describe("NumberHold", () => {
  it("holds the whole number, longer on each refused probe, per code, until another answer", () => {
    const h = new NumberHold(300_000, () => 1);
    expect(h.admit(0)).toEqual({ kind: "go" });
    expect(h.refused(130429, 0)).toBe(1_000);
    expect(h.admit(500)).toEqual({ kind: "wait", untilMs: 1_000 });
    expect(h.admit(1_000)).toEqual({ kind: "probe" });
    h.probeStarted();
    expect(h.admit(1_001)).toEqual({ kind: "blocked" });
    expect(h.refused(130429, 1_010, 1_000)).toBe(3_010);
    expect(h.answered(3_010)).toBe(130429);
    expect(h.admit(3_011)).toEqual({ kind: "go" });
    expect(h.refused(80007, 10_000)).toBe(70_000);
  });

  it("probes maintenance (131057) every few seconds, not doubling into minutes", () => {
    const h = new NumberHold(900_000, () => 1);
    let at = 0;
    const probes: number[] = [];
    for (let i = 0; i < 6; i++) {
      at = h.refused(131057, at, at);
      probes.push(at);
    }
    expect(probes).toEqual([5_000, 12_500, 23_750, 40_625, 65_938, 103_907]);
  });

  it("counts refusals of calls made before the hold began as the same strike; their answers end nothing", () => {
    const h = new NumberHold(300_000, () => 1);
    expect(h.refused(130429, 1_000, 990)).toBe(2_000);
    // Calls made at 995 and 999 were on the wire already: no longer wait.
    expect(h.refused(130429, 1_003, 995)).toBe(2_000);
    expect(h.refused(130429, 1_004, 999)).toBe(2_000);
    expect(h.answered(998)).toBeUndefined();
    expect(h.code).toBe(130429);
    // A probe made after the hold began and refused again: the next strike doubles.
    expect(h.refused(130429, 2_010, 2_001)).toBe(4_010);
  });

  it("lets the next waiter probe when the probe's slot goes unused", () => {
    const h = new NumberHold(300_000, () => 1);
    h.refused(131057, 0);
    h.probeStarted();
    expect(h.admit(10_000)).toEqual({ kind: "blocked" });
    h.probeCancelled();
    expect(h.admit(10_000)).toEqual({ kind: "probe" });
  });
});
