import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AnyEvent } from "@parley/contracts";
import type { GraphSend } from "./dispatch-handler.js";
import {
  acceptedSend,
  dispatchMessage,
  memoryAttempts,
  testDispatchHandler,
  testLane,
  testOutlet,
} from "./fixtures.spec-helpers.js";
import { StoppedError } from "./sleep.js";

// The lane's admission (ADR 0006, "Admission"): a number admits about `admitAheadMs` of its cap
// ahead of its rate; the rest of its backlog waits in arrival order. A bound that lost a
// dispatch, admitted one twice or let a later one overtake an earlier one would lose or reorder
// a send: each test below fails on such a break.

const NUMBER = "106540352240001";

function lane(mps: number, admitAheadMs = 500, admitFloor?: number) {
  return testLane({
    number: NUMBER,
    mps,
    clock: () => 1_000_000,
    tuning: { admitAheadMs, ...(admitFloor === undefined ? {} : { admitFloor }) },
  });
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("NumberLane admission", () => {
  it("admits at most the bound at once, the rest in arrival order, each once, as earlier ones are released", async () => {
    // 20 msg/s x 500 ms: 10 at once.
    const l = lane(20);
    expect(l.admission.bound).toBe(10);
    const order: number[] = [];
    const releases = new Map<number, () => void>();
    const all = Array.from({ length: 25 }, (_, i) =>
      l.admit(new AbortController().signal).then((release) => {
        order.push(i);
        releases.set(i, release);
      }),
    );
    await flush();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(l.admission).toEqual({ admitted: 10, waiting: 15, bound: 10 });
    // Released out of order (calls answered out of order): the next in line comes in each time.
    for (const i of [7, 2, 9]) releases.get(i)?.();
    await flush();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // A release is idempotent: the handler releases after the call and again when it ends.
    releases.get(7)?.();
    await flush();
    expect(order.length).toBe(13);
    for (let i = 0; i < 25; i++) {
      releases.get(i)?.();
      await flush();
    }
    await Promise.all(all);
    expect(order).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(l.admission).toEqual({ admitted: 0, waiting: 0, bound: 10 });
    l.close();
  });

  it("a stop while waiting admits nothing and throws StoppedError; the next in line takes no place of it", async () => {
    const l = lane(1, 500, 2);
    const a = new AbortController();
    const signal = new AbortController().signal;
    const first = await l.admit(signal);
    await l.admit(signal);
    const stopped = l.admit(a.signal);
    let thirdIn = false;
    const third = l.admit(signal).then((r) => {
      thirdIn = true;
      return r;
    });
    a.abort();
    await expect(stopped).rejects.toBeInstanceOf(StoppedError);
    await flush();
    expect(thirdIn).toBe(false);
    first();
    await third;
    expect(l.admission).toEqual({ admitted: 2, waiting: 0, bound: 2 });
    // Already stopped: refused at once.
    const gone = new AbortController();
    gone.abort();
    await expect(l.admit(gone.signal)).rejects.toBeInstanceOf(StoppedError);
    l.close();
  });

  it("a pause lets every waiting dispatch in at once (each finds the pause and parks), and a new cap widens the bound", async () => {
    const l = lane(10, 500, 1);
    const signal = new AbortController().signal;
    await l.admit(signal);
    await l.admit(signal);
    await l.admit(signal);
    await l.admit(signal);
    await l.admit(signal);
    let waiting = [l.admit(signal), l.admit(signal)];
    await flush();
    expect(l.admission.waiting).toBe(2);
    // Meta raised the cap: 20 msg/s x 500 ms, 10 at once.
    l.setMps(20);
    await Promise.all(waiting);
    waiting = Array.from({ length: 5 }, () => l.admit(signal));
    await flush();
    expect(l.admission).toEqual({ admitted: 10, waiting: 2, bound: 10 });
    l.pause({ code: 190, since: 0, detail: "token refused" });
    await Promise.all(waiting);
    expect(l.admission.waiting).toBe(0);
    l.close();
  });

  it("no bound when admitAheadMs is 0", async () => {
    const l = lane(1, 0);
    const signal = new AbortController().signal;
    await Promise.all(Array.from({ length: 100 }, () => l.admit(signal)));
    expect(l.admission.admitted).toBe(100);
    l.close();
  });

  it("property: whatever the arrivals, releases, stops and cap changes, none admitted past the bound, in arrival order, each surviving dispatch admitted exactly once", async () => {
    type Op =
      | { kind: "arrive" }
      | { kind: "release"; pick: number }
      | { kind: "stop"; pick: number }
      | { kind: "cap"; mps: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant<Op>({ kind: "arrive" }) },
      {
        weight: 4,
        arbitrary: fc.nat(50).map<Op>((pick) => ({ kind: "release", pick })),
      },
      { weight: 1, arbitrary: fc.nat(50).map<Op>((pick) => ({ kind: "stop", pick })) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 40 }).map<Op>((mps) => ({ kind: "cap", mps })),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { maxLength: 120 }),
        async (mps, floor, ops) => {
          const l = lane(mps, 500, floor);
          const admittedOrder: number[] = [];
          const stopped = new Set<number>();
          const live = new Map<number, () => void>();
          const waiting: { id: number; stop: AbortController }[] = [];
          let next = 0;
          const arrive = (): void => {
            const id = next++;
            const stop = new AbortController();
            waiting.push({ id, stop });
            l.admit(stop.signal).then(
              (release) => {
                admittedOrder.push(id);
                live.set(id, release);
                const w = waiting.findIndex((x) => x.id === id);
                if (w >= 0) waiting.splice(w, 1);
              },
              (error: unknown) => {
                expect(error).toBeInstanceOf(StoppedError);
                stopped.add(id);
                const w = waiting.findIndex((x) => x.id === id);
                if (w >= 0) waiting.splice(w, 1);
              },
            );
          };
          for (const o of ops) {
            const before = live.size;
            if (o.kind === "arrive") arrive();
            else if (o.kind === "release") {
              const ids = [...live.keys()];
              const id = ids[o.pick % Math.max(1, ids.length)];
              if (id !== undefined) {
                live.get(id)?.();
                live.delete(id);
              }
            } else if (o.kind === "stop") {
              waiting[o.pick % Math.max(1, waiting.length)]?.stop.abort();
            } else l.setMps(o.mps);
            await flush();
            // None admitted past the bound, whatever the order of events (a lower cap admits
            // nothing more until enough are released, and takes no admission back).
            expect(live.size).toBeLessThanOrEqual(Math.max(before, l.admission.bound));
            expect(l.admission.admitted).toBe(live.size);
          }
          // Drain: release everything until every waiting dispatch got in.
          while (live.size > 0 || waiting.length > 0) {
            const [id, release] = [...live.entries()][0] ?? [];
            if (id === undefined || release === undefined) break;
            release();
            live.delete(id);
            await flush();
          }
          expect(waiting).toEqual([]);
          // Each dispatch either admitted once or stopped, and the admitted in arrival order.
          expect(admittedOrder).toEqual([...admittedOrder].sort((a, b) => a - b));
          expect(new Set(admittedOrder).size).toBe(admittedOrder.length);
          expect(admittedOrder.length + stopped.size).toBe(next);
          expect(l.admission).toEqual({ admitted: 0, waiting: 0, bound: l.admission.bound });
          l.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("handlers over a bounded lane: a backlog of one number's dispatches, started at once, each called once, in arrival order, never more admitted than the bound", async () => {
    // 100 msg/s x 50 ms ahead: 5 at once (real timers: 40 sends take about 0.4 s).
    const l = testLane({
      number: NUMBER,
      mps: 100,
      clock: () => Date.now(),
      tuning: { admitAheadMs: 50, admitFloor: 1, marginMs: 0 },
    });
    expect(l.admission.bound).toBe(5);
    const calls: string[] = [];
    let peak = 0;
    const graph: GraphSend = async (_number, d) => {
      calls.push(d.requestId);
      peak = Math.max(peak, l.admission.admitted);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return acceptedSend(d);
    };
    const attempts = memoryAttempts();
    const handle = testDispatchHandler({
      number: NUMBER,
      lane: l,
      attempts,
      graph,
      clock: Date.now,
    });
    const published: AnyEvent[] = [];
    const ids = Array.from({ length: 40 }, (_, i) => `req-${String(i).padStart(2, "0")}`);
    const results = await Promise.all(
      ids.map((id, i) =>
        handle(
          dispatchMessage(NUMBER, id, `1655500${String(i).padStart(4, "0")}`),
          new AbortController().signal,
          testOutlet(published),
        ),
      ),
    );
    expect(results.every((r) => r === "finished")).toBe(true);
    // Each once, in the order the handlers started: the bound neither lost nor reordered one.
    expect(calls).toEqual(ids);
    expect(published.filter((e) => e.type === "SendAccepted")).toHaveLength(ids.length);
    expect(peak).toBeLessThanOrEqual(5);
    expect(l.admission).toEqual({ admitted: 0, waiting: 0, bound: 5 });
    l.close();
  });
});
