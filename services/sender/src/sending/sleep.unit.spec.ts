import { describe, expect, it } from "vitest";
import { sleepUntil } from "./sleep.js";

/** A clock and a nap whose first wake-up is early: that nap of `ms` moves the clock ms - early. */
function earlyTimers(start: number, early: number) {
  let now = start;
  const naps: number[] = [];
  return {
    clock: () => now,
    naps,
    nap: (ms: number): Promise<boolean> => {
      naps.push(ms);
      now += naps.length === 1 ? ms - early : ms;
      return Promise.resolve(true);
    },
  };
}

describe("sleepUntil", () => {
  it("does not return before the clock reads the instant, when timers fire a millisecond early", async () => {
    const t = earlyTimers(1_000, 1);
    await expect(sleepUntil(1_356, t.clock, undefined, t.nap)).resolves.toBe(true);
    expect(t.clock()).toBeGreaterThanOrEqual(1_356);
    // the first nap came back at 1,355 (one early), so it waited again
    expect(t.naps).toEqual([356, 1]);
  });

  it("waits for a fractional instant to pass on a whole-millisecond clock", async () => {
    const t = earlyTimers(1_000, 0);
    await expect(sleepUntil(1_451.62, t.clock, undefined, t.nap)).resolves.toBe(true);
    expect(t.clock()).toBe(1_452);
  });

  it("returns at once when the instant has passed", async () => {
    const t = earlyTimers(2_000, 1);
    await expect(sleepUntil(1_999.5, t.clock, undefined, t.nap)).resolves.toBe(true);
    expect(t.naps).toEqual([]);
  });

  it("returns false when the wait is aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      sleepUntil(Date.now() + 60_000, () => Date.now(), controller.signal),
    ).resolves.toBe(false);
  });

  it("with real timers, the wall clock has reached the instant when it returns", async () => {
    for (let i = 0; i < 20; i++) {
      const at = Date.now() + 2.5 + (i % 3);
      await sleepUntil(at, () => Date.now());
      expect(Date.now()).toBeGreaterThanOrEqual(at);
    }
  });
});
