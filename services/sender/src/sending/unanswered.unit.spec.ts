import { KeyedQueue } from "@parley/kafka";
import { retryOf } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { testLane } from "./fixtures.spec-helpers.js";
import { createParking } from "./parking.js";
import type { ParkStore } from "./ports.js";
import { StoppedError } from "./sleep.js";

// A store read that never answers (a reply lost on its way: the 2026-12-07 CI run of the
// projection e2e, where no dispatch of the number ever reached Graph and the stop never ended).
// Every dispatch of a number waits for the lane's seed and, on the dispatch consumer's first
// stage, for the park count: one unanswered read there must neither stall the number for good
// nor keep a stop from ending.
const NUMBER = "106540352240001";
const never = new Promise<never>(() => undefined);

/** `p`'s outcome, or "pending" if it has none within `ms` (what a hang looks like here). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => {
      resolve("pending");
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("a lane whose seed read is never answered", () => {
  it("lets a stop end the wait of every dispatch at once", async () => {
    const l = testLane({
      number: NUMBER,
      mps: 80,
      clock: () => Date.now(),
      recentCalls: () => never,
    });
    const stop = new AbortController();
    const ready = l.recipientReady("15550001111", stop.signal);
    const turn = l.turn("15550002222", stop.signal);
    ready.catch(() => undefined);
    turn.catch(() => undefined);
    stop.abort();
    await expect(within(ready, 500)).rejects.toBeInstanceOf(StoppedError);
    await expect(within(turn, 500)).rejects.toBeInstanceOf(StoppedError);
    l.close();
  });

  it("fails the waiting dispatches as an outage past the bound, and the next one reads again", async () => {
    let reads = 0;
    const l = testLane({
      number: NUMBER,
      mps: 80,
      clock: () => Date.now(),
      tuning: { storeBoundMs: 50 },
      recentCalls: () => (++reads === 1 ? never : Promise.resolve([])),
    });
    const signal = new AbortController().signal;
    const first = await within(
      l.recipientReady("15550001111", signal).then(
        () => "ready",
        (error: unknown) => error,
      ),
      1_000,
    );
    expect(first).not.toBe("pending");
    expect(first).not.toBe("ready");
    expect(retryOf(first)).toBe("outage");
    // The runner retries the record: this time the seed is read again, and answered.
    expect(await within(l.recipientReady("15550001111", signal), 1_000)).toBe(true);
    expect(reads).toBe(2);
    const slot = await within(l.turn("15550001111", signal), 1_000);
    expect(slot).not.toBe("pending");
    l.close();
  });

  it("also bounds a recipient's pacing seed (a new owner reading that pair's calls)", async () => {
    let reads = 0;
    const l = testLane({
      number: NUMBER,
      mps: 80,
      clock: () => Date.now(),
      tuning: { storeBoundMs: 50 },
      // An earlier owner called on the number just now: recipients are read one by one.
      latestCall: () => Promise.resolve(Date.now() - 1_000),
      pairCalls: () => (++reads === 1 ? never : Promise.resolve([])),
    });
    const signal = new AbortController().signal;
    const first = await within(
      l.recipientReady("15550001111", signal).then(
        () => "ready",
        (error: unknown) => error,
      ),
      1_000,
    );
    expect(retryOf(first)).toBe("outage");
    expect(await within(l.recipientReady("15550001111", signal), 1_000)).toBe(true);
    expect(reads).toBe(2);
    l.close();
  });
});

describe("a turn asked for with the stop already given", () => {
  it("ends with StoppedError even when no slot is free (no listener would ever wake it)", async () => {
    const l = testLane({ number: NUMBER, mps: 1, clock: () => Date.now() });
    const live = new AbortController().signal;
    // The number's one slot of this second, reserved and not answered yet.
    const held = await l.turn("15550001111", live);
    expect(held).toBeDefined();
    const stop = new AbortController();
    stop.abort();
    const late = l.turn("15550002222", stop.signal);
    late.catch(() => undefined);
    await expect(within(late, 500)).rejects.toBeInstanceOf(StoppedError);
    held?.cancel();
    l.close();
  });
});

describe("a park count that is never answered", () => {
  it("fails the set-aside decision as an outage past the bound, and the next decision reads again", async () => {
    let counts = 0;
    const store: ParkStore = {
      park: () => Promise.resolve(true),
      next: () => Promise.resolve([]),
      count: () => (++counts === 1 ? never : Promise.resolve(0)),
      remove: () => Promise.resolve(),
      backlog: () => Promise.resolve([]),
      ensureIndexes: () => Promise.resolve(),
    };
    const lane = testLane({ number: NUMBER, mps: 80, clock: () => Date.now() });
    const warnings: string[] = [];
    const parking = createParking({
      store,
      lane: (n) => (n === NUMBER ? lane : undefined),
      handle: () => Promise.resolve("finished"),
      assignment: () => ({ partitions: [0], joins: 1 }),
      keyedRunner: () => new KeyedQueue(),
      observer: { parkedChanged: () => undefined },
      logger: {
        info: () => undefined,
        warn: (_o, msg) => warnings.push(msg),
        error: () => undefined,
      },
      maxInFlight: 10,
      storeBoundMs: 50,
    });
    const first = await within(
      parking.setAside(NUMBER, { partition: 0, offset: 0 }, 0).then(
        () => "decided",
        (error: unknown) => error,
      ),
      1_000,
    );
    expect(first).not.toBe("pending");
    expect(retryOf(first)).toBe("outage");
    // Retried by the runner: the count is read again, and the record stays on the main track.
    expect(await within(parking.setAside(NUMBER, { partition: 0, offset: 0 }, 0), 1_000)).toBe(
      undefined,
    );
    expect(counts).toBe(2);
    await parking.stop();
    lane.close();
  });
});
