import { describe, expect, it } from "vitest";
import { CallPermits } from "./permits.js";

const never = new AbortController().signal;

describe("CallPermits", () => {
  it("never has more than its size in use, and hands permits out first come, first served within a number", async () => {
    const permits = new CallPermits(2);
    const a = await permits.acquire(never);
    const b = await permits.acquire(never);
    expect(permits.inUse).toBe(2);
    const order: string[] = [];
    const c = permits.acquire(never).then((r) => {
      order.push("c");
      return r;
    });
    const d = permits.acquire(never).then((r) => {
      order.push("d");
      return r;
    });
    await Promise.resolve();
    expect(permits.waiting).toBe(2);
    expect(order).toEqual([]);
    if (!a || !b) throw new Error("expected permits");
    a();
    a(); // a second release of the same permit frees nothing more
    const rc = await c;
    expect(order).toEqual(["c"]);
    expect(permits.inUse).toBe(2);
    b();
    const rd = await d;
    expect(order).toEqual(["c", "d"]);
    if (!rc || !rd) throw new Error("expected permits");
    rc();
    rd();
    expect(permits.inUse).toBe(0);
  });

  it("serves the numbers in turn: a deep queue of one number does not hold back another's call", async () => {
    const permits = new CallPermits(1);
    const held = await permits.acquire(never, "fast");
    const order: string[] = [];
    // Each call ends as soon as it has its permit, handing it on.
    const wait = (key: string, name: string) =>
      permits.acquire(never, key).then((release) => {
        order.push(name);
        if (release) release();
      });
    const waits = [wait("fast", "f1"), wait("fast", "f2"), wait("fast", "f3"), wait("slow", "s1")];
    await Promise.resolve();
    expect(permits.waiting).toBe(4);
    if (!held) throw new Error("expected a permit");
    held();
    await Promise.all(waits);
    expect(order).toEqual(["f1", "s1", "f2", "f3"]);
    expect(permits.inUse).toBe(0);
    expect(permits.waiting).toBe(0);
  });

  it("an aborted wait takes no permit and leaves the queue", async () => {
    const permits = new CallPermits(1);
    const held = await permits.acquire(never);
    const stop = new AbortController();
    const waiting = permits.acquire(stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(permits.waiting).toBe(0);
    if (!held) throw new Error("expected a permit");
    held();
    expect(permits.inUse).toBe(0);
    expect(await permits.acquire(stop.signal)).toBe(false);
  });

  it("rejects a size that is not a positive integer", () => {
    expect(() => new CallPermits(0)).toThrow(RangeError);
    expect(() => new CallPermits(1.5)).toThrow(RangeError);
  });
});
