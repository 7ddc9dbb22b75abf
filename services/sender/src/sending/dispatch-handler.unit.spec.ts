import type { AnyEvent, EventOf } from "@parley/contracts";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultRetryPolicy } from "../domain/backoff.js";
import { OUTBOX } from "../domain/ports.js";
import { createDispatchHandler, DeadLetterError, type GraphSend } from "./dispatch-handler.js";
import {
  acceptedSend,
  dispatchMessage,
  memoryAttempts,
  testDispatchHandler,
  testLane,
  testOutlet,
} from "./fixtures.spec-helpers.js";
import type { Slot } from "./lanes.js";
import { createRevocationNotices } from "./revocations.js";
import type { GateStore } from "../domain/ports.js";

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
    return Promise.resolve(acceptedSend(d));
  };
  const published: AnyEvent[] = [];
  const attempts = memoryAttempts();
  const handle = testDispatchHandler({ number: NUMBER, lane, attempts, graph, clock });
  // One dispatch at a time, so each slot is known to belong to the request being handled.
  const run = async (d: EventOf<"DispatchMessage">): Promise<"finished" | "parked"> => {
    granting = d.data.requestId;
    return handle(d, new AbortController().signal, testOutlet(published));
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

describe("dispatch handler: an opt-out applied while a send waits for its slot (invariant 8)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * Two sends fill the number's first second (2 msg/s); the third, to the contact that opts
   * out, is gated at once, granted its slot 500 ms ahead and fenced then, and waits for the next
   * second. The opt-out is applied 700 ms in: after the gate view, after the fence, before the
   * call. Its view is fresh by `gateFreshMs` (10 s), so only the notice can stop it.
   */
  async function optOutDuringTheWait(heardBySender: boolean, storeDownAfterOptOut = false) {
    const clock = (): number => Date.now();
    const lane = testLane({
      number: NUMBER,
      mps: MPS,
      clock,
      tuning: { marginMs: 0, leadMs: 500 },
    });
    const revokedAt = new Map<string, number>();
    const gates: GateStore = {
      view: (contactId) => {
        const at = revokedAt.get(contactId);
        if (storeDownAfterOptOut && at !== undefined)
          return Promise.reject(new Error("MongoDB unavailable"));
        return Promise.resolve(
          at === undefined ? {} : { consent: { state: "revoked", scope: "all", at } },
        );
      },
      consent: () => Promise.resolve(),
      window: () => Promise.resolve(),
    };
    const revocations = createRevocationNotices({ now: clock });
    const called: string[] = [];
    const graph: GraphSend = (_number, d) => {
      called.push(d.requestId);
      return Promise.resolve(acceptedSend(d));
    };
    const attempts = memoryAttempts();
    const handle = testDispatchHandler({
      number: NUMBER,
      lane,
      attempts,
      graph,
      clock,
      gates,
      gateFreshMs: 10_000,
      ...(heardBySender ? { revocations } : {}),
    });
    const published: AnyEvent[] = [];
    const STOPPING = "16505550999";
    setTimeout(() => {
      // What the sender's gates consumer does: the gate store written, then the notice.
      revokedAt.set(STOPPING, Date.now());
      revocations.heard(STOPPING, Date.now());
    }, 700);
    const done = (async () => {
      for (const [id, to] of [
        ["r1", "16505550001"],
        ["r2", "16505550002"],
        ["r3", STOPPING],
      ] as const)
        await handle(dispatch(id, to), new AbortController().signal, testOutlet(published));
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(5_000);
    const failed = await done;
    return { called, published, record: attempts.records.get("r3"), failed };
  }

  it("reads the gate again before the call when this process applied an opt-out for the contact meanwhile: no call, SendRejected opted_out, the fence undone", async () => {
    const { called, published, record } = await optOutDuringTheWait(true);
    expect(called).toEqual(["r1", "r2"]);
    expect(published.map((e) => e.type)).toEqual(["SendAccepted", "SendAccepted", "SendRejected"]);
    const rejected = published[2];
    expect(rejected?.type === "SendRejected" && rejected.data.reason).toBe("opted_out");
    // The record counts no call and keeps no call instant: nothing went to Graph.
    expect(record?.state).toBe("done");
    expect(record?.calls).toBe(0);
    expect(record?.calledAt).toBeUndefined();
  });

  it("when the gate cannot be read again, makes no call and undoes the fence before failing, so a redelivery decides the send afresh", async () => {
    const { called, published, record, failed } = await optOutDuringTheWait(true, true);
    expect(failed).toBeInstanceOf(Error);
    expect(called).toEqual(["r1", "r2"]);
    expect(published.map((e) => e.type)).toEqual(["SendAccepted", "SendAccepted"]);
    // Back to claimed with no call counted: not a fence without a call (never judged in doubt).
    expect(record?.state).toBe("claimed");
    expect(record?.calls).toBe(0);
    expect(record?.calledAt).toBeUndefined();
  });

  it("without the notice (another instance owns the contact's consent partition), a view fresher than gateFreshMs is trusted: the call goes", async () => {
    const { called } = await optOutDuringTheWait(false);
    expect(called).toEqual(["r1", "r2", "r3"]);
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
            return Promise.resolve(acceptedSend(d));
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

  it("sends, not judges in doubt, a request its dead owner was waiting to call (no record before the fence)", async () => {
    const { attempts, calls, published, owner } = twoOwners();
    const first = owner();
    // The first owner takes its slot's worth, then waits for a second request's slot (1 msg/s)...
    await first.handle(
      dispatch("before", "16505550001"),
      new AbortController().signal,
      testOutlet(published),
    );
    const dies = new AbortController();
    const waiting = first.handle(
      dispatch("stranded", "16505550002"),
      dies.signal,
      testOutlet(published),
    );
    await new Promise((r) => setTimeout(r, 100));
    // Its record is written only by its fence, at the slot: none while it waits.
    expect(attempts.records.has("stranded")).toBe(false);
    // ...and dies (its handler stops; nothing more it writes matters).
    dies.abort();
    await waiting.catch(() => undefined);
    expect(attempts.records.has("stranded")).toBe(false);
    // The next owner gets the dispatch again: its fence inserts the record and it sends it, once.
    const next = owner();
    expect(
      await next.handle(
        dispatch("stranded", "16505550002"),
        new AbortController().signal,
        testOutlet(published),
      ),
    ).toBe("finished");
    expect(calls).toEqual(["before", "stranded"]);
    expect(published.filter((e) => e.correlationId === "stranded").map((e) => e.type)).toEqual([
      "SendAccepted",
    ]);
    expect(attempts.records.get("stranded")).toMatchObject({ state: "done", epoch: 1, calls: 1 });
  }, 10_000);

  it("a stale owner still waiting for its slot loses its fence (the insert) to the new owner: one call, one outcome", async () => {
    const { attempts, calls, published, owner } = twoOwners();
    const old = owner();
    await old.handle(
      dispatch("warm", "16505550003"),
      new AbortController().signal,
      testOutlet(published),
    );
    // The old owner waits about a second for its slot; meanwhile a rebalance gives the record
    // to a new owner, whose lane is free: its fence inserts the record and it calls first.
    const stale = old.handle(
      dispatch("raced", "16505550004"),
      new AbortController().signal,
      testOutlet(published),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(attempts.records.has("raced")).toBe(false);
    const fresh = owner();
    await fresh.handle(
      dispatch("raced", "16505550004"),
      new AbortController().signal,
      testOutlet(published),
    );
    expect(await stale).toBe("finished");
    expect(calls.filter((c) => c === "raced")).toHaveLength(1);
    // One outcome stored; the stale owner, finding it at its slot, replays that same event for
    // the same record (its transaction, fenced by the rebalance in Kafka, commits nothing).
    expect(attempts.records.get("raced")?.outcomes).toHaveLength(1);
    const raced = published.filter((e) => e.correlationId === "raced");
    expect(raced.length).toBeGreaterThan(0);
    expect(new Set(raced.map((e) => e.eventId)).size).toBe(1);
    old.lane.close();
    fresh.lane.close();
  }, 10_000);
});

describe("dispatch handler: exactly one outcome record for read-committed consumers", () => {
  /** One owner over a memory store, a lane at 100 msg/s, and Graph answering with `answer`. */
  function owner(answer: () => Awaited<ReturnType<GraphSend>>) {
    const clock = (): number => Date.now();
    const attempts = memoryAttempts();
    const lane = testLane({ number: NUMBER, mps: 100, clock, tuning: { marginMs: 0 } });
    const calls: string[] = [];
    const handle = createDispatchHandler({
      lane: (n) => (n === NUMBER ? lane : undefined),
      attempts,
      gates: {
        view: () => Promise.resolve({}),
        consent: () => Promise.resolve(),
        window: () => Promise.resolve(),
      },
      graph: (_number, d) => {
        calls.push(d.requestId);
        return Promise.resolve(answer());
      },
      clock,
      random: () => 0.5,
      policy: { retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 }, maxPacedAttempts: 3 },
      callBoundMs: 30_000,
      windowRecheckMs: 0,
      observer: { outcome: () => undefined, graphCall: () => undefined, inFlight: () => undefined },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      parking: { park: () => Promise.resolve() },
    });
    return { handle, attempts, calls, lane };
  }
  const accepted = () =>
    ({
      ok: true,
      result: {
        wamid: "wamid.once",
        waId: "16505550009",
        input: "16505550009",
        messageStatus: undefined,
        fbTraceId: undefined,
      },
    }) as const;
  const signal = () => new AbortController().signal;

  it("publishes again only from the record that published first (its transaction did not commit), never from another record of the request; a parked record's outcome moves to the outbox once", async () => {
    const { handle, attempts, calls, lane } = owner(accepted);
    const d = dispatch("once-1", "16505550009");
    const first: AnyEvent[] = [];
    await handle(d, signal(), testOutlet(first, "dispatch:0:10"));
    expect(first.map((e) => e.type)).toEqual(["SendAccepted"]);
    expect(attempts.records.get("once-1")?.origins.get(first[0]?.eventId ?? "")).toBe(
      "dispatch:0:10",
    );
    // The same record again (the sender died before its transaction committed): the same event.
    const again: AnyEvent[] = [];
    await handle(d, signal(), testOutlet(again, "dispatch:0:10"));
    expect(again.map((e) => e.eventId)).toEqual(first.map((e) => e.eventId));
    // The router emitted the DispatchMessage twice: the copy publishes nothing.
    const copy: AnyEvent[] = [];
    await handle(d, signal(), testOutlet(copy, "dispatch:0:11"));
    expect(copy).toEqual([]);
    // The first record came again after a crash and was parked (its record completed when
    // parked): the drain hands its outcome to the outbox, once.
    const drained: AnyEvent[] = [];
    const parkedFrom = { ...testOutlet(drained), origin: OUTBOX, adopts: "dispatch:0:10" };
    await handle(d, signal(), { ...parkedFrom, outbox: parkedFrom });
    expect(drained.map((e) => e.eventId)).toEqual(first.map((e) => e.eventId));
    expect(attempts.records.get("once-1")?.unpublished).toEqual(first.map((e) => e.eventId));
    const drainedAgain: AnyEvent[] = [];
    const again2 = { ...testOutlet(drainedAgain), origin: OUTBOX, adopts: "dispatch:0:10" };
    await handle(d, signal(), { ...again2, outbox: again2 });
    expect(drainedAgain).toEqual([]);
    expect(calls).toEqual(["once-1"]);
    lane.close();
  });

  it("a request that failed for good hands its SendFailed to the outbox, since its record's outputs are its dead letter alone", async () => {
    const { handle, attempts, lane } = owner(() => ({
      ok: false,
      failure: {
        kind: "graph",
        code: 2,
        httpStatus: 503,
        title: "Service temporarily unavailable",
      },
    }));
    const viaRecord: AnyEvent[] = [];
    const viaOutbox: AnyEvent[] = [];
    const outlet = {
      ...testOutlet(viaRecord, "dispatch:0:20"),
      outbox: testOutlet(viaOutbox).outbox,
    };
    await expect(handle(dispatch("dead-1", "16505550010"), signal(), outlet)).rejects.toThrow(
      DeadLetterError,
    );
    expect(viaRecord).toEqual([]);
    expect(viaOutbox.map((e) => e.type)).toEqual(["SendFailed"]);
    const record = attempts.records.get("dead-1");
    expect(record?.unpublished).toEqual(viaOutbox.map((e) => e.eventId));
    expect(record?.origins.get(viaOutbox[0]?.eventId ?? "")).toBe(OUTBOX);
    // The dead-lettered record comes again (its dead letter not committed): nothing of the
    // outbox's is published by it.
    const again: AnyEvent[] = [];
    await handle(dispatch("dead-1", "16505550010"), signal(), {
      ...testOutlet(again, "dispatch:0:20"),
    });
    expect(again).toEqual([]);
    lane.close();
  });
});

describe("dispatch handler: a refused token", () => {
  it("pauses only its number and names the secret to fix (config key and file), never the token", async () => {
    const lane = testLane({ number: NUMBER, mps: MPS, clock: () => Date.now() });
    const errors: { obj: object; msg: string }[] = [];
    const handle = createDispatchHandler({
      lane: (n) => (n === NUMBER ? lane : undefined),
      attempts: memoryAttempts(),
      gates: {
        view: () => Promise.resolve({}),
        consent: () => Promise.resolve(),
        window: () => Promise.resolve(),
      },
      graph: () =>
        Promise.resolve({
          ok: false,
          failure: { kind: "graph", code: 190, httpStatus: 401, title: "Access token has expired" },
        }),
      clock: () => Date.now(),
      random: () => 0.5,
      policy: { retry: defaultRetryPolicy, maxPacedAttempts: 3 },
      callBoundMs: 30_000,
      windowRecheckMs: 0,
      observer: { outcome: () => undefined, graphCall: () => undefined, inFlight: () => undefined },
      logger: {
        info: () => undefined,
        warn: () => undefined,
        error: (obj, msg) => errors.push({ obj, msg }),
      },
      parking: { park: () => Promise.resolve() },
      secretOf: (n) =>
        n === NUMBER ? "numbers.0.accessTokenFile (/run/secrets/wa-token)" : undefined,
    });
    const published: AnyEvent[] = [];
    expect(
      await handle(
        dispatch("t1", "16505550001"),
        new AbortController().signal,
        testOutlet(published),
      ),
    ).toBe("parked");
    expect(lane.paused).toMatchObject({ code: 190 });
    expect(published).toEqual([]);
    expect(errors).toEqual([
      {
        obj: expect.objectContaining({
          code: 190,
          configKey: "numbers.0.accessTokenFile (/run/secrets/wa-token)",
        }) as object,
        msg: expect.stringContaining(
          "fix the secret numbers.0.accessTokenFile (/run/secrets/wa-token)",
        ) as string,
      },
    ]);
  });
});
