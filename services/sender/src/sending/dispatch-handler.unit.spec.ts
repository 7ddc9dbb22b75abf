import type { AnyEvent, EventOf } from "@parley/contracts";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultRetryPolicy } from "../domain/backoff.js";
import { createDispatchHandler, type GraphSend } from "./dispatch-handler.js";
import { dispatchMessage, memoryAttempts, testLane } from "./fixtures.spec-helpers.js";
import type { Slot } from "./lanes.js";

const NUMBER = "106540352240001";
const MPS = 2;

function dispatch(requestId: string, to: string): EventOf<"DispatchMessage"> {
  return dispatchMessage(NUMBER, requestId, to, {}, new Date(0));
}

/**
 * A handler over one real lane, on a clock that runs behind the timers: every timer fires when
 * the clock has moved only 90 % of its delay, as Node's whole-millisecond timers on the monotonic
 * clock can fire before `Date.now()` reaches their instant.
 */
function setup() {
  const base = Date.now();
  const clock = (): number => base + Math.floor((Date.now() - base) * 0.9);
  // As in production, a slot is granted up to 20 ms ahead, and the handler waits for it.
  const lane = testLane({ number: NUMBER, mps: MPS, clock, tuning: { marginMs: 0, leadMs: 20 } });
  // Each call is checked against the slot it was granted.
  const slots = new Map<string, number>();
  const turn = lane.turn.bind(lane);
  let granting: string | undefined;
  lane.turn = async (recipient, signal): Promise<Slot | undefined> => {
    const slot = await turn(recipient, signal);
    if (slot !== undefined && granting !== undefined) slots.set(granting, slot.slotAt);
    return slot;
  };
  const calls: { requestId: string; at: number; slotAt: number | undefined }[] = [];
  const graph: GraphSend = (_number, d) => {
    calls.push({ requestId: d.requestId, at: clock(), slotAt: slots.get(d.requestId) });
    return Promise.resolve({
      ok: true,
      result: {
        wamid: `wamid.${d.requestId}`,
        waId: d.to,
        input: d.to,
        messageStatus: undefined,
        fbTraceId: undefined,
      },
    });
  };
  const published: AnyEvent[] = [];
  const attempts = memoryAttempts();
  const handle = createDispatchHandler({
    lane: (n) => (n === NUMBER ? lane : undefined),
    attempts,
    gates: {
      view: () => Promise.resolve({}),
      consent: () => Promise.resolve(),
      window: () => Promise.resolve(),
    },
    graph,
    publish: (events) => {
      published.push(...events);
      return Promise.resolve();
    },
    clock,
    random: () => 0.5,
    policy: { retry: defaultRetryPolicy, maxPacedAttempts: 3 },
    callBoundMs: 30_000,
    windowRecheckMs: 0,
    observer: { outcome: () => undefined, graphCall: () => undefined, inFlight: () => undefined },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    parking: { park: () => Promise.resolve() },
  });
  // One dispatch at a time, so each slot is known to belong to the request being handled.
  const run = async (d: EventOf<"DispatchMessage">): Promise<"finished" | "parked"> => {
    granting = d.data.requestId;
    return handle(d, new AbortController().signal);
  };
  return { run, calls, published, attempts, lane };
}

describe("dispatch handler and the rate slot", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("never calls Graph before its slot, even when the timers fire before the clock reaches it", async () => {
    const { run, calls, published, attempts } = setup();
    // Twice the cap: the third and later sends wait a whole window for their slot.
    const ids = ["r1", "r2", "r3", "r4", "r5", "r6"];
    const done = (async () => {
      const results: string[] = [];
      for (const [i, id] of ids.entries()) results.push(await run(dispatch(id, `1650555000${i}`)));
      return results;
    })();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await done).toEqual(ids.map(() => "finished"));

    expect(calls.map((c) => c.requestId)).toEqual(ids);
    for (const c of calls) {
      expect(c.slotAt).toBeDefined();
      expect(c.at).toBeGreaterThanOrEqual(c.slotAt ?? Number.POSITIVE_INFINITY);
    }
    // The waits were real: sends past the cap left a window after the ones before them.
    const [first, , third] = calls;
    expect((third?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    // No one-second window (on the handler's clock) holds more calls than the cap.
    for (const c of calls) {
      expect(calls.filter((o) => o.at > c.at - 1_000 && o.at <= c.at).length).toBeLessThanOrEqual(
        MPS,
      );
    }
    expect(published.map((e) => e.type)).toEqual(ids.map(() => "SendAccepted"));
    expect([...attempts.records.values()].every((r) => r.state === "done" && r.calls === 1)).toBe(
      true,
    );
  });
});

describe("dispatch handler: an owner that dies or goes stale before its call", () => {
  /** Two handlers (two owners) over one memory store and real lanes at a cap of 1 msg/s. */
  function twoOwners() {
    const clock = (): number => Date.now();
    const attempts = memoryAttempts();
    const calls: string[] = [];
    const published: AnyEvent[] = [];
    const owner = () => {
      const lane = testLane({ number: NUMBER, mps: 1, clock, tuning: { marginMs: 0 } });
      return {
        lane,
        handle: createDispatchHandler({
          lane: (n) => (n === NUMBER ? lane : undefined),
          attempts,
          gates: {
            view: () => Promise.resolve({}),
            consent: () => Promise.resolve(),
            window: () => Promise.resolve(),
          },
          graph: (_number, d) => {
            calls.push(d.requestId);
            return Promise.resolve({
              ok: true,
              result: {
                wamid: `wamid.${d.requestId}`,
                waId: d.to,
                input: d.to,
                messageStatus: undefined,
                fbTraceId: undefined,
              },
            });
          },
          publish: (events) => {
            published.push(...events);
            return Promise.resolve();
          },
          clock,
          random: () => 0.5,
          policy: { retry: defaultRetryPolicy, maxPacedAttempts: 3 },
          callBoundMs: 30_000,
          windowRecheckMs: 0,
          observer: {
            outcome: () => undefined,
            graphCall: () => undefined,
            inFlight: () => undefined,
          },
          logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
          parking: { park: () => Promise.resolve() },
        }),
      };
    };
    return { attempts, calls, published, owner };
  }

  it("sends, not judges in doubt, a request its dead owner claimed and never called", async () => {
    const { attempts, calls, published, owner } = twoOwners();
    const first = owner();
    // The first owner takes its slot's worth, then claims a second request and waits (1 msg/s)...
    await first.handle(dispatch("before", "16505550001"), new AbortController().signal);
    const dies = new AbortController();
    const waiting = first.handle(dispatch("stranded", "16505550002"), dies.signal);
    await vi.waitFor(() => {
      expect(attempts.records.get("stranded")?.state).toBe("claimed");
    });
    // ...and dies (its handler stops; nothing more it writes matters).
    dies.abort();
    await waiting.catch(() => undefined);
    expect(attempts.records.get("stranded")?.state).toBe("claimed");
    // The next owner gets the dispatch again: it takes the claim over and sends it, once.
    const next = owner();
    expect(
      await next.handle(dispatch("stranded", "16505550002"), new AbortController().signal),
    ).toBe("finished");
    expect(calls).toEqual(["before", "stranded"]);
    expect(published.filter((e) => e.correlationId === "stranded").map((e) => e.type)).toEqual([
      "SendAccepted",
    ]);
    expect(attempts.records.get("stranded")).toMatchObject({ state: "done", epoch: 2, calls: 1 });
  }, 10_000);

  it("a stale owner still waiting for its slot loses its fence to the new owner: one call, one outcome", async () => {
    const { attempts, calls, published, owner } = twoOwners();
    const old = owner();
    await old.handle(dispatch("warm", "16505550003"), new AbortController().signal);
    // The old owner waits about a second for its slot; meanwhile a rebalance gives the record
    // to a new owner, whose lane is free: it takes the claim over and calls first.
    const stale = old.handle(dispatch("raced", "16505550004"), new AbortController().signal);
    await vi.waitFor(() => {
      expect(attempts.records.get("raced")?.state).toBe("claimed");
    });
    const fresh = owner();
    await fresh.handle(dispatch("raced", "16505550004"), new AbortController().signal);
    expect(await stale).toBe("finished");
    expect(calls.filter((c) => c === "raced")).toHaveLength(1);
    expect(published.filter((e) => e.correlationId === "raced")).toHaveLength(1);
    old.lane.close();
    fresh.lane.close();
  }, 10_000);
});
