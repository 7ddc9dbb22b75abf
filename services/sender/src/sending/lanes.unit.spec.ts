import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { testLane } from "./fixtures.spec-helpers.js";

// Lanes on a clock the test moves.
function lane(
  now: { t: number },
  {
    mps = 80,
    recentCalls = () => Promise.resolve([]),
  }: {
    mps?: number;
    recentCalls?: (number: string, sinceMs: number) => Promise<number[]>;
  } = {},
) {
  return testLane({ number: "106540352240001", mps, clock: () => now.t, recentCalls });
}

const never = new AbortController().signal;

describe("NumberLane margin", () => {
  it("widens once per 130429 episode and relaxes one step per quiet spell, down to the configured margin", async () => {
    const now = { t: 1_000_000 };
    const l = lane(now);
    l.held(130429, now.t - 10);
    // A refusal of a call made before that widening is the same episode.
    l.held(130429, now.t - 5);
    expect(l.rate.marginMs).toBe(20);
    now.t += 2_000;
    l.held(130429, now.t - 1);
    expect(l.rate.marginMs).toBe(25);

    // A send after `quietMs` more, and the margin it leaves.
    let recipient = 0;
    const sendAfter = async (quietMs: number): Promise<number> => {
      now.t += quietMs;
      (await l.turn(`1555000000${String(recipient++)}`, never))?.sent(now.t, now.t);
      // The number's hold after those refusals ends with this answer.
      l.answered(now.t);
      return l.rate.marginMs;
    };
    // Not quiet long enough: no change. Ten quiet minutes since the last widening: one step back;
    // ten more: the configured 15, and no lower.
    expect(await sendAfter(300_000)).toBe(25);
    expect(await sendAfter(300_001)).toBe(20);
    expect(await sendAfter(600_001)).toBe(15);
    expect(await sendAfter(600_001)).toBe(15);
    l.close();
  });

  it("seeds from the calls recorded in the last window, at the start and after an idle spell", async () => {
    const now = { t: 1_000_000 };
    const reads: number[] = [];
    const l = lane(now, {
      mps: 2,
      recentCalls: (_number, since) => {
        reads.push(since);
        // Another owner called twice just before the first read; none since the second.
        return Promise.resolve(reads.length === 1 ? [now.t - 500, now.t - 400] : []);
      },
    });
    expect(reads).toEqual([1_000_000 - 1_015]);
    // Both count as answered when read (1,000,000 - 15): no slot before 1,001,000.
    await Promise.resolve();
    expect(l.rate.nextAt(now.t)).toBe(1_001_000);
    now.t += 3_600_001;
    await l.turn("15550000001", never);
    expect(reads).toEqual([1_000_000 - 1_015, now.t - 1_015]);
    l.close();
  });

  it("a seed read while MongoDB is out is no unhandled failure: a turn reads again, meets the store's error while it is out, and is granted once it is back", async () => {
    // The chaos run's MongoDB outage: a lane made at start (for its cap) before any dispatch,
    // its seed refused; left unhandled, that rejection ended the sender ("fatal error").
    const now = { t: 1_000_000 };
    let reads = 0;
    let out = true;
    const outage = new Error("sender_attempts recentCallTimes failed: connect ECONNREFUSED");
    const l = lane(now, {
      recentCalls: () => {
        reads++;
        return out ? Promise.reject(outage) : Promise.resolve([]);
      },
    });
    // Nobody awaits the first seed for a while (vitest fails the run on an unhandled rejection).
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reads).toBe(1);
    // Still out: the turn reads again and meets the error (the caller retries an outage).
    await expect(l.turn("15550000001", never)).rejects.toBe(outage);
    expect(reads).toBe(2);
    // Back: the next turn reads again and is granted its slot.
    out = false;
    expect(await l.turn("15550000001", never)).toBeDefined();
    expect(reads).toBe(3);
    l.close();
  });

  it("a paused lane grants no slot, and resumes granting", async () => {
    const now = { t: 1_000_000 };
    const l = lane(now);
    l.pause({ code: 190, since: now.t, detail: "token refused" });
    expect(await l.recipientReady("15550000001", never)).toBe(false);
    expect(await l.turn("15550000001", never)).toBeUndefined();
    l.resume();
    expect(await l.recipientReady("15550000001", never)).toBe(true);
    const slot = await l.turn("15550000001", never);
    expect(slot?.slotAt).toBe(now.t);
    l.close();
  });
});

describe("NumberLane hold (130429, 4, 80007, 131057)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds the whole number, then lets one probe through; its other sends wait for the probe's answer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const now = { t: 1_000_000 };
    const l = lane(now, { mps: 1_000 });
    const pass = async (ms: number): Promise<void> => {
      now.t += ms;
      await vi.advanceTimersByTimeAsync(ms);
    };
    // A maintenance refusal of a call made just now.
    const first = await l.turn("15550000001", never);
    first?.sent(now.t, now.t);
    l.held(131057, now.t);
    expect(l.heldBy).toBe(131057);
    // Three recipients wait for a slot: none is granted before the hold's wait.
    const waiting = ["15550000002", "15550000003", "15550000004"].map((to) => l.turn(to, never));
    let granted = 0;
    for (const w of waiting) void w.then(() => granted++);
    await pass(4_990);
    expect(granted).toBe(0);
    // A late refusal of an older call: the same strike, no change.
    l.held(131057, now.t - 10_000);
    // After the wait (5 s for 131057): one probe only.
    await pass(20);
    expect(granted).toBe(1);
    const probe = await waiting[0];
    expect(probe?.probe).toBe(true);
    await pass(1_000);
    expect(granted).toBe(1);
    // Refused again: held longer (7.5 s), nobody else went meanwhile.
    probe?.sent(now.t, now.t);
    l.held(131057, now.t);
    await pass(7_490);
    expect(granted).toBe(1);
    await pass(20);
    expect(granted).toBe(2);
    const second = await waiting[1];
    expect(second?.probe).toBe(true);
    // Accepted: the hold ends and the rest goes at once.
    second?.sent(now.t, now.t);
    l.accepted("15550000003", now.t);
    await pass(1);
    expect(granted).toBe(3);
    expect((await waiting[2])?.probe).toBe(false);
    expect(l.heldBy).toBeUndefined();
    l.close();
  });

  it("passes the probe on when its slot goes unused", async () => {
    const now = { t: 1_000_000 };
    const l = lane(now, { mps: 1_000 });
    l.held(130429, now.t);
    now.t += 1_000;
    const probe = await l.turn("15550000001", never);
    expect(probe?.probe).toBe(true);
    const next = l.turn("15550000002", never);
    probe?.cancel();
    expect((await next)?.probe).toBe(true);
    l.close();
  });

  it("takes a new cap at once (Meta upgraded the number)", async () => {
    const now = { t: 1_000_000 };
    const l = lane(now, { mps: 80 });
    l.setMps(1_000);
    expect(l.mps).toBe(1_000);
    for (let i = 0; i < 500; i++)
      (await l.turn(`155510${String(i).padStart(5, "0")}`, never))?.sent(now.t, now.t);
    expect(l.rate.nextAt(now.t)).toBe(now.t);
    l.close();
  });
});

describe("NumberLane pair pacing", () => {
  it("reckons a recipient's debt from when Meta can have counted a send, not from its token", async () => {
    const now = { t: 1_000_000 };
    const l = lane(now, { mps: 1_000 });
    const to = "15550000001";
    // The burst's first send takes its token now and is answered 400 ms later; 44 more at once.
    const first = await l.turn(to, never);
    now.t += 400;
    first?.sent(now.t - 400, now.t);
    for (let i = 0; i < 44; i++) (await l.turn(to, never))?.sent(now.t, now.t);
    // Meta counted the first no earlier than its answer less the 15 ms margin: the burst of 45
    // is repaid 45 refills after that (Meta's borrowing rule), not 45 refills after the first
    // token (1,270,000).
    expect(l.pacer.nextAt(to, now.t)).toBe(1_000_000 + 400 - 15 + 45 * 6_000);
    l.close();
  });
});

describe("NumberLane pair seeds (a new owner inherits each recipient's debt)", () => {
  const NUMBER = "106540352240001";
  // burst 45 x refill 6 s + one refill + 1 s of transit (testLane's settings).
  const HORIZON = 45 * 6_000 + 6_000 + 1_000;
  const T0 = 10_000_000;

  /** A lane over a store holding `prior` calls (recipient, instant), counting its reads. */
  const seeded = (
    now: { t: number },
    prior: readonly { to: string; at: number }[],
    gated: boolean,
  ) => {
    const reads: string[] = [];
    const l = testLane({
      number: NUMBER,
      mps: 1_000,
      clock: () => now.t,
      pairCalls: (_n, to, since) => {
        reads.push(to);
        return Promise.resolve(prior.filter((c) => c.to === to && c.at > since).map((c) => c.at));
      },
      ...(gated
        ? {
            latestCall: (_n: string, since: number) => {
              const times = prior.filter((c) => c.at > since).map((c) => c.at);
              return Promise.resolve(times.length > 0 ? Math.max(...times) : undefined);
            },
          }
        : {}),
    });
    return { l, reads };
  };

  /**
   * Meets `to` (its seed, if any), without waiting for its debt: stopped once the seed's reads
   * (answered at once here) are done, so the wait for the debt ends there. A stop given before
   * the call would read nothing (a stopped dispatch starts no read).
   */
  const meet = async (l: ReturnType<typeof testLane>, to: string): Promise<void> => {
    const stop = new AbortController();
    const ready = l.recipientReady(to, stop.signal).catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    await ready;
  };

  it("property: with the number-wide probe, every recipient gets the same debt as when each is read, and none is read when the number had no call within the horizon", async () => {
    const recipient = fc.constantFrom("15550000001", "15550000002", "15550000003", "15550000004");
    await fc.assert(
      fc.asyncProperty(
        // Bursts of sends the old owner made (up to Meta's 45 at one instant), near the restart
        // or long before it.
        fc.array(
          fc.record({
            to: recipient,
            ago: fc.oneof(
              fc.integer({ min: 0, max: 60_000 }),
              fc.integer({ min: 0, max: 2 * HORIZON }),
            ),
            count: fc.integer({ min: 1, max: 45 }),
          }),
          { maxLength: 8 },
        ),
        fc.array(
          fc.record({
            to: recipient,
            after: fc.oneof(
              fc.integer({ min: 0, max: 5_000 }),
              fc.integer({ min: 0, max: HORIZON }),
            ),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (calls, meetings) => {
          const prior = calls.flatMap((c) =>
            Array.from({ length: c.count }, () => ({ to: c.to, at: T0 - c.ago })),
          );
          const nowA = { t: T0 };
          const nowB = { t: T0 };
          const a = seeded(nowA, prior, true);
          const b = seeded(nowB, prior, false);
          for (const m of meetings) {
            nowA.t += m.after;
            nowB.t += m.after;
            await meet(a.l, m.to);
            await meet(b.l, m.to);
            for (const to of new Set(meetings.map((x) => x.to)))
              expect(a.l.pacer.nextAt(to, nowA.t)).toBe(b.l.pacer.nextAt(to, nowB.t));
          }
          if (!prior.some((c) => c.at > T0 - HORIZON)) expect(a.reads).toEqual([]);
          expect(a.reads.length).toBeLessThanOrEqual(b.reads.length);
          a.l.close();
          b.l.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a restart mid-debt: the probe finds the old owner's burst and the recipient waits for its debt; a number quiet for the horizon is not read at all", async () => {
    const now = { t: T0 };
    const to = "15550000001";
    // The old owner's burst of 45 to one recipient, 10 s before the restart.
    const burst = Array.from({ length: 45 }, () => ({ to, at: T0 - 10_000 }));
    const { l, reads } = seeded(now, burst, true);
    await meet(l, to);
    expect(reads).toEqual([to]);
    expect(l.pacer.nextAt(to, now.t)).toBe(T0 - 10_000 + 1_000 + 45 * 6_000);
    l.close();

    const quiet = seeded(now, [{ to, at: T0 - HORIZON - 1 }], true);
    await meet(quiet.l, to);
    await meet(quiet.l, "15550000002");
    expect(quiet.reads).toEqual([]);
    expect(quiet.l.pacer.nextAt(to, now.t)).toBe(now.t);
    quiet.l.close();
  });
});
