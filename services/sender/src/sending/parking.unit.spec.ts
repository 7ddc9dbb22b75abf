import { createEvent, type EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import type { ParkedDispatch, ParkStore } from "../adapters/store/park-store.js";
import { NumberLane } from "./lanes.js";
import { createParking } from "./parking.js";

// The parking logic over an in-memory park store (the MongoDB one runs in the sender's
// integration test): what parks, in which order it drains, and when new dispatches stop parking.
const NUMBER = "106540352240003";

function memoryStore(): ParkStore & {
  docs: Map<string, ParkedDispatch>;
  /** Runs while a query is on its way, after its answer was read (a write racing the read). */
  racing?: (afterOffset: number, limit: number) => void;
} {
  const docs = new Map<string, ParkedDispatch>();
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const store: ReturnType<typeof memoryStore> = {
    docs,
    async park(p) {
      await tick();
      if (docs.has(p.requestId)) return false;
      docs.set(p.requestId, p);
      return true;
    },
    async next(number, afterOffset, limit) {
      const answer = [...docs.values()]
        .filter((d) => d.number === number && d.offset > afterOffset)
        .sort((a, b) => a.offset - b.offset)
        .slice(0, limit);
      store.racing?.(afterOffset, limit);
      await tick();
      await tick();
      return answer;
    },
    async count(number) {
      await tick();
      return [...docs.values()].filter((d) => d.number === number).length;
    },
    async remove(requestId) {
      await tick();
      docs.delete(requestId);
    },
    async backlog() {
      await tick();
      const by = new Map<string, { number: string; partitions: number[] }>();
      for (const d of docs.values()) {
        const b = by.get(d.number) ?? { number: d.number, partitions: [] };
        if (!b.partitions.includes(d.partition)) b.partitions.push(d.partition);
        by.set(d.number, b);
      }
      return [...by.values()];
    },
    ensureIndexes: () => Promise.resolve(),
  };
  return store;
}

function dispatch(requestId: string, to: string): EventOf<"DispatchMessage"> {
  return createEvent(
    "DispatchMessage",
    {
      requestId,
      idempotencyKey: requestId,
      contactId: to,
      to,
      toKind: "phone",
      content: { type: "template", template: { name: "t", language: { code: "en" } } },
      category: "utility",
      usedTemplateFallback: false,
      bizOpaqueCallbackData: requestId,
    },
    { correlationId: requestId, businessNumber: NUMBER, now: new Date() },
  );
}

function setup(options: { store?: ReturnType<typeof memoryStore>; partitions?: number[] } = {}) {
  const store = options.store ?? memoryStore();
  const lane = new NumberLane(
    NUMBER,
    { mps: 80, pairPacing: { burst: 45, refillMs: 6_000 } },
    {
      marginMs: 0,
      smoothingMs: 0,
      leadMs: 0,
      maxPairBackoffMs: 1_000,
      maxNumberBackoffMs: 1_000,
      marginStepMs: 0,
      maxMarginMs: 0,
      marginRelaxAfterMs: 0,
      reseedAfterIdleMs: 60_000,
    },
    () => Date.now(),
    () => 0.5,
    () => Promise.resolve([]),
    { waited: () => undefined, pausedChanged: () => undefined },
  );
  const handled: string[] = [];
  const partitions = options.partitions ?? [0];
  let answer: (d: EventOf<"DispatchMessage">) => "finished" | "parked" = () => "finished";
  const gauge: number[] = [];
  const parking = createParking({
    store,
    lane: (n) => (n === NUMBER ? lane : undefined),
    handle: async (d) => {
      await new Promise((resolve) => setImmediate(resolve));
      const r = answer(d);
      if (r === "finished") handled.push(d.data.requestId);
      return r;
    },
    assignment: () => ({ partitions, joins: 1 }),
    observer: { parkedChanged: (_n, count) => gauge.push(count) },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    maxInFlight: 4,
    pageSize: 3,
  });
  return {
    store,
    lane,
    parking,
    handled,
    gauge,
    answerWith: (f: typeof answer) => {
      answer = f;
    },
  };
}

const pause = (lane: NumberLane) => {
  lane.pause({ code: 190, since: Date.now(), detail: "token refused" });
};
const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(check()).toBe(true);
};

describe("parking", () => {
  it("parks nothing while the number sends; parks every dispatch once while it is paused", async () => {
    const { parking, lane, store } = setup();
    expect(await parking.admit(NUMBER, { partition: 0, offset: 1 }, dispatch("a", "1"))).toBe(
      false,
    );
    pause(lane);
    expect(await parking.admit(NUMBER, { partition: 0, offset: 2 }, dispatch("b", "1"))).toBe(true);
    // A redelivery of the same record parks it once.
    expect(await parking.admit(NUMBER, { partition: 0, offset: 2 }, dispatch("b", "1"))).toBe(true);
    expect([...store.docs.keys()]).toEqual(["b"]);
    expect(parking.parked(NUMBER)).toBe(1);
  });

  it("drains in record order once resumed, each recipient in order, and then stops parking", async () => {
    const { parking, lane, handled, gauge } = setup();
    pause(lane);
    const order = [
      ["p1", "1"],
      ["p2", "2"],
      ["p3", "1"],
      ["p4", "3"],
      ["p5", "1"],
      ["p6", "2"],
      ["p7", "2"],
    ] as const;
    for (const [i, [id, to]] of order.entries())
      await parking.admit(NUMBER, { partition: 0, offset: 10 + i }, dispatch(id, to));
    lane.resume();
    parking.resumed(NUMBER);
    await until(() => handled.length === 7);
    const of = (to: string) => handled.filter((id) => order.find(([i]) => i === id)?.[1] === to);
    expect(of("1")).toEqual(["p1", "p3", "p5"]);
    expect(of("2")).toEqual(["p2", "p6", "p7"]);
    await until(() => parking.parked(NUMBER) === 0);
    expect(gauge.at(-1)).toBe(0);
    // Drained: the next dispatch goes straight through.
    await new Promise((r) => setTimeout(r, 20));
    expect(await parking.admit(NUMBER, { partition: 0, offset: 30 }, dispatch("n", "1"))).toBe(
      false,
    );
  });

  it("keeps parking new dispatches while a drain is still ahead of them, and drains those too", async () => {
    const { parking, lane, handled } = setup();
    pause(lane);
    for (let i = 0; i < 6; i++)
      await parking.admit(NUMBER, { partition: 0, offset: i }, dispatch(`old-${i}`, "1"));
    lane.resume();
    parking.resumed(NUMBER);
    // Arrives while the drain runs: it must queue behind the parked ones of its contact.
    expect(await parking.admit(NUMBER, { partition: 0, offset: 6 }, dispatch("new", "1"))).toBe(
      true,
    );
    await until(() => handled.length === 7);
    expect(handled).toEqual([0, 1, 2, 3, 4, 5].map((i) => `old-${i}`).concat("new"));
  });

  it("does not stop parking while a park races the drain's last look at an empty park", async () => {
    const { parking, lane, handled, store } = setup();
    pause(lane);
    await parking.admit(NUMBER, { partition: 0, offset: 1 }, dispatch("first", "1"));
    let raced = false;
    store.racing = (afterOffset, limit) => {
      // The drain's last look (from the start, one document) misses a park that lands meanwhile.
      if (afterOffset !== -1 || limit !== 1 || raced) return;
      raced = true;
      void parking.admit(NUMBER, { partition: 0, offset: 2 }, dispatch("racer", "1"));
    };
    lane.resume();
    parking.resumed(NUMBER);
    await until(() => handled.length === 2);
    expect(raced).toBe(true);
    expect(handled).toEqual(["first", "racer"]);
    await until(() => store.docs.size === 0);
  });

  it("stops draining when the number pauses again, and keeps the rest parked in order", async () => {
    const { parking, lane, handled, store, answerWith } = setup();
    pause(lane);
    for (let i = 0; i < 5; i++)
      await parking.admit(NUMBER, { partition: 0, offset: i }, dispatch(`r-${i}`, "1"));
    lane.resume();
    answerWith((d) => {
      if (d.data.requestId !== "r-2") return "finished";
      pause(lane);
      return "parked";
    });
    parking.resumed(NUMBER);
    await until(() => handled.length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(handled).toEqual(["r-0", "r-1"]);
    expect([...store.docs.keys()].sort()).toEqual(["r-2", "r-3", "r-4"]);
    expect(await parking.admit(NUMBER, { partition: 0, offset: 9 }, dispatch("late", "1"))).toBe(
      true,
    );
  });

  it("a new owner finds an earlier owner's park: fresh dispatches queue behind it, and it drains", async () => {
    const store = memoryStore();
    const before = setup({ store });
    pause(before.lane);
    await before.parking.admit(NUMBER, { partition: 0, offset: 1 }, dispatch("left-1", "1"));
    await before.parking.admit(NUMBER, { partition: 0, offset: 2 }, dispatch("left-2", "1"));
    await before.parking.stop();

    const after = setup({ store });
    expect(
      await after.parking.admit(NUMBER, { partition: 0, offset: 3 }, dispatch("new", "1")),
    ).toBe(true);
    await until(() => after.handled.length === 3);
    expect(after.handled).toEqual(["left-1", "left-2", "new"]);
    expect(store.docs.size).toBe(0);
  });

  it("a park whose number left the directory is still handed to the handler (which rejects it), not left", async () => {
    const store = memoryStore();
    await store.park({
      requestId: "gone-1",
      number: "106540352249999",
      partition: 0,
      offset: 4,
      recipient: "1",
      dispatch: dispatch("gone-1", "1"),
      parkedAt: new Date(),
    });
    const { parking, handled } = setup({ store });
    await parking.sweep();
    await until(() => handled.length === 1);
    expect(handled).toEqual(["gone-1"]);
    await until(() => store.docs.size === 0);
  });

  it("the sweep drains parks on this instance's partitions only", async () => {
    const store = memoryStore();
    const before = setup({ store });
    pause(before.lane);
    await before.parking.admit(NUMBER, { partition: 1, offset: 1 }, dispatch("p", "1"));
    await before.parking.stop();

    const elsewhere = setup({ store, partitions: [0] });
    await elsewhere.parking.sweep();
    await new Promise((r) => setTimeout(r, 30));
    expect(elsewhere.handled).toEqual([]);

    const owner = setup({ store, partitions: [1] });
    await owner.parking.sweep();
    await until(() => owner.handled.length === 1);
    expect(store.docs.size).toBe(0);
  });
});
