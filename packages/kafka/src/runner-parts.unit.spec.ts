import { describe, expect, it } from "vitest";
import { backoffDelay, outageDelay, sleep } from "./backoff.js";
import { isRetriable, ParleyKafkaError, PoisonRecordError, retryOf } from "./errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import { OffsetTracker } from "./offset-tracker.js";

describe("OffsetTracker", () => {
  it("tells the watermark and the records finished above it (what transactional mode records)", () => {
    const t = new OffsetTracker();
    expect(t.watermark()).toBeUndefined();
    for (const o of [10n, 11n, 13n, 14n, 20n]) t.add(o);
    t.complete(11n);
    t.complete(14n);
    t.complete(20n);
    expect(t.watermark()).toBe(10n);
    expect(t.finishedAbove()).toEqual([11n, 14n, 20n]);
    t.complete(10n);
    expect(t.watermark()).toBe(13n);
    expect(t.finishedAbove()).toEqual([14n, 20n]);
    t.complete(13n);
    expect(t.watermark()).toBe(21n);
    expect(t.finishedAbove()).toEqual([]);
  });

  it("passes over undelivered records (transaction markers) without passing an unfinished one", () => {
    const t = new OffsetTracker();
    t.add(10n);
    t.skipTo(12n); // 11 was a commit marker, 12 an aborted record
    expect(t.watermark()).toBe(10n);
    t.complete(10n);
    expect(t.watermark()).toBe(13n);
    t.skipTo(12n); // a refetch of what is already passed changes nothing
    t.skipTo(9n);
    expect(t.highest).toBe(12n);
    t.add(14n);
    expect(t.committable()).toBe(14n);
  });

  it("commits only below the first unfinished record, whatever order records finish in", () => {
    const t = new OffsetTracker();
    for (const o of [10n, 11n, 12n, 13n]) t.add(o);
    expect(t.committable()).toBe(10n);
    t.complete(12n);
    t.complete(13n);
    expect(t.committable()).toBe(10n);
    t.complete(10n);
    expect(t.committable()).toBe(11n);
    t.markCommitted(11n);
    expect(t.committable()).toBeUndefined();
    t.complete(11n);
    expect(t.committable()).toBe(14n);
    expect(t.pending).toBe(0);
  });

  it("refuses records out of order and remembers the highest offset", () => {
    const t = new OffsetTracker();
    t.add(5n);
    expect(() => {
      t.add(5n);
    }).toThrow(/arrive in order/);
    expect(t.highest).toBe(5n);
  });

  it("stays small over a long run", () => {
    const t = new OffsetTracker();
    for (let i = 0n; i < 10_000n; i++) {
      t.add(i);
      t.complete(i);
    }
    expect(t.pending).toBe(0);
    expect(t.committable()).toBe(10_000n);
  });
});

describe("KeyedQueue", () => {
  it("runs one key in order and different keys in parallel", async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => () =>
      new Promise<void>((r) =>
        setTimeout(() => {
          log.push(name);
          r();
        }, ms),
      );
    void q.run("a", task("a1", 30));
    void q.run("a", task("a2", 1));
    void q.run("b", task("b1", 5));
    await q.drain();
    expect(log).toEqual(["b1", "a1", "a2"]);
    expect(q.activeKeys).toBe(0);
  });

  it("keeps going after a failed task", async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    await expect(q.run("k", () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    await q.run("k", () => Promise.resolve(void log.push("next")));
    expect(log).toEqual(["next"]);
  });
});

describe("backoff", () => {
  const policy = {
    attempts: 5,
    initialDelayMs: 100,
    maxDelayMs: 1_000,
    factor: 2,
    maxOutageDelayMs: 3_000,
  };
  it("grows exponentially up to the cap, with full jitter", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
  });
  it("waits out an outage doubling up to its own cap, never less than half the ceiling", () => {
    expect([1, 2, 3, 4, 5, 6, 60].map((n) => outageDelay(policy, n, () => 1))).toEqual([
      100, 200, 400, 800, 1_600, 3_000, 3_000,
    ]);
    expect(outageDelay(policy, 6, () => 0)).toBe(1_500);
  });
  it("sleep ends early on abort", async () => {
    const c = new AbortController();
    const pending = sleep(10_000, c.signal);
    c.abort();
    expect(await pending).toBe(false);
  });
});

describe("errors", () => {
  it("carry the retry decision", () => {
    expect(isRetriable(new ParleyKafkaError("x", { retry: "bounded" }))).toBe(true);
    expect(isRetriable(new PoisonRecordError("bad bytes"))).toBe(false);
    expect(isRetriable(new Error("plain"))).toBe(false);
    expect(isRetriable({ retry: "bounded" })).toBe(true);
    expect(isRetriable({ retriable: true })).toBe(true);
  });
  it("tell an outage from a bounded retry and from a poison record", () => {
    expect(retryOf(new ParleyKafkaError("x", { retry: "outage" }))).toBe("outage");
    expect(retryOf(new ParleyKafkaError("x", { retry: "bounded" }))).toBe("bounded");
    expect(retryOf(new PoisonRecordError("bad bytes"))).toBe("never");
    expect(retryOf(new RangeError("Maximum call stack size exceeded"))).toBe("never");
  });
});
