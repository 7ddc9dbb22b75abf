import { afterEach, describe, expect, it, vi } from "vitest";
import { createLaneGate, type LoopTime } from "./lanes.js";

/** A fake event loop: its busy and idle times advance as a test says. */
function fakeLoop() {
  let time: LoopTime = { active: 0, idle: 0 };
  return {
    loop: () => time,
    spend: (active: number, idle: number) => {
      time = { active: time.active + active, idle: time.idle + idle };
    },
  };
}

const deferred = () => {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
};

describe("createLaneGate (ADR 0004, two raw lanes)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lets a receipt go at once when no first-lane work is in flight", async () => {
    const gate = createLaneGate({ maxWaitMs: 1_000, spareBelow: 0.5 });
    await expect(gate.turn()).resolves.toBeUndefined();
    expect(gate.state).toEqual({ firstInFlight: 0, waiting: 0 });
  });

  it("holds receipts while messages or sends keep the loop busy, and lets them all go when that work ends", async () => {
    vi.useFakeTimers();
    const { loop, spend } = fakeLoop();
    const gate = createLaneGate({
      maxWaitMs: 10_000,
      spareBelow: 0.5,
      tickMs: 20,
      loop,
      now: () => Date.now(),
    });
    const send = deferred();
    const sending = gate.first(() => send.promise.then(() => "sent"));
    const order: string[] = [];
    const receipts = [1, 2, 3].map((i) =>
      gate.turn().then(() => order.push(`receipt ${String(i)}`)),
    );
    for (let i = 0; i < 10; i += 1) {
      spend(19, 1); // 95 % busy
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(order).toEqual([]);
    expect(gate.state).toEqual({ firstInFlight: 1, waiting: 3 });
    send.open();
    expect(await sending).toBe("sent");
    await Promise.all(receipts);
    expect(order).toEqual(["receipt 1", "receipt 2", "receipt 3"]);
    expect(gate.state).toEqual({ firstInFlight: 0, waiting: 0 });
  });

  it("lets receipts go when the first lanes wait on I/O and the loop is mostly idle", async () => {
    vi.useFakeTimers();
    const { loop, spend } = fakeLoop();
    const gate = createLaneGate({
      maxWaitMs: 10_000,
      spareBelow: 0.5,
      tickMs: 20,
      loop,
      now: () => Date.now(),
    });
    const send = deferred();
    void gate.first(() => send.promise);
    let went = false;
    void gate.turn().then(() => {
      went = true;
    });
    spend(4, 16); // 20 % busy
    await vi.advanceTimersByTimeAsync(20);
    expect(went).toBe(true);
    send.open();
  });

  it("never starves receipts: they go after maxWaitMs however busy the first lanes are", async () => {
    vi.useFakeTimers();
    const { loop, spend } = fakeLoop();
    const gate = createLaneGate({
      maxWaitMs: 200,
      spareBelow: 0.5,
      tickMs: 20,
      loop,
      now: () => Date.now(),
    });
    const send = deferred();
    void gate.first(() => send.promise);
    let wentAfter: number | undefined;
    const start = Date.now();
    void gate.turn().then(() => {
      wentAfter = Date.now() - start;
    });
    for (let i = 0; i < 15 && wentAfter === undefined; i += 1) {
      spend(20, 0);
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(wentAfter).toBeGreaterThanOrEqual(200);
    expect(wentAfter).toBeLessThanOrEqual(220);
    send.open();
  });

  it("keeps first-lane failures the caller's, and still counts the work as ended", async () => {
    const gate = createLaneGate({ maxWaitMs: 1_000, spareBelow: 0.5 });
    await expect(gate.first(() => Promise.reject(new Error("store down")))).rejects.toThrow(
      "store down",
    );
    expect(gate.state.firstInFlight).toBe(0);
    await expect(gate.turn()).resolves.toBeUndefined();
  });

  it("refuses a negative wait and a share outside [0, 1]", () => {
    expect(() => createLaneGate({ maxWaitMs: -1, spareBelow: 0.5 })).toThrow(RangeError);
    expect(() => createLaneGate({ maxWaitMs: 10, spareBelow: 1.5 })).toThrow(RangeError);
  });
});
