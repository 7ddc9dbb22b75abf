import type { EventOf } from "@parley/contracts";
import { KeyedQueue } from "@parley/kafka";
import { describe, expect, it } from "vitest";
import type { ParkedDispatch, ParkStore } from "./ports.js";
import { dispatchMessage, testLane } from "./fixtures.spec-helpers.js";
import type { NumberLane } from "./lanes.js";
import { createParking } from "./parking.js";

// The parking logic over an in-memory park store (the MongoDB one runs in the sender's
// integration test): what parks, in which order it drains, and when new dispatches stop parking.
const NUMBER = "106540352240003";

function memoryStore(): ParkStore & {
  docs: Map<string, ParkedDispatch>;
  /** Runs while a query is on its way, after its answer was read (a write racing the read). */
  racing?: (afterOffset: number, limit: number) => void | Promise<void>;
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
      await store.racing?.(afterOffset, limit);
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
  return dispatchMessage(NUMBER, requestId, to);
}

function setup(
  options: {
    store?: ReturnType<typeof memoryStore>;
    partitions?: number[];
    overflow?: { above: number; shared: (number: string, partition: number) => boolean };
    committed?: (partition: number) => Promise<number>;
  } = {},
) {
  const store = options.store ?? memoryStore();
  const lane = testLane({
    number: NUMBER,
    mps: 80,
    clock: () => Date.now(),
    random: () => 0.5,
    tuning: {
      marginMs: 0,
      maxPairBackoffMs: 1_000,
      maxNumberBackoffMs: 1_000,
      marginStepMs: 0,
      maxMarginMs: 0,
      marginRelaxAfterMs: 0,
      reseedAfterIdleMs: 60_000,
    },
  });
  const handled: string[] = [];
  const partitions = options.partitions ?? [0];
  let answer: (d: EventOf<"DispatchMessage">) => "finished" | "parked" = () => "finished";
  const gauge: number[] = [];
  // The dispatch consumer's side of the contract: records on its main track (by recipient),
  // and records set aside that have not parked yet.
  const main = new Map<string, { recipient: string }>();
  let aside = 0;
  const mainPending = (recipient: string) =>
    [...main.values()].filter((m) => m.recipient === recipient).length;
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
    keyedRunner: () => new KeyedQueue(),
    observer: { parkedChanged: (_n, count) => gauge.push(count) },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    maxInFlight: 4,
    pageSize: 3,
    ...(options.overflow ? { overflow: options.overflow } : {}),
    ...(options.committed ? { committed: options.committed } : {}),
    consumer: {
      mainPending: (_partition, _number, recipient) => mainPending(recipient),
      asidePending: () => aside,
    },
  });
  /**
   * A record arriving as the consumer hands it over: set aside and parked (true), or taken onto
   * the main track (false) until `finish` says its handling ended.
   */
  const admit = async (
    number: string,
    at: { partition: number; offset: number },
    d: EventOf<"DispatchMessage">,
  ): Promise<boolean> => {
    const why = await parking.setAside(number, at, main.size);
    if (why === undefined) {
      main.set(d.data.requestId, { recipient: d.data.to });
      return false;
    }
    aside++;
    try {
      await parking.park(number, at, d, why);
    } finally {
      aside--;
    }
    return true;
  };
  return {
    store,
    lane,
    parking,
    admit,
    finish: (requestId: string) => main.delete(requestId),
    mainInFlight: () => main.size,
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
    const { parking, lane, store, admit } = setup();
    expect(await admit(NUMBER, { partition: 0, offset: 1 }, dispatch("a", "1"))).toBe(false);
    pause(lane);
    expect(await admit(NUMBER, { partition: 0, offset: 2 }, dispatch("b", "1"))).toBe(true);
    // A redelivery of the same record parks it once.
    expect(await admit(NUMBER, { partition: 0, offset: 2 }, dispatch("b", "1"))).toBe(true);
    expect([...store.docs.keys()]).toEqual(["b"]);
    expect(parking.parked(NUMBER)).toBe(1);
  });

  it("drains in record order once resumed, each recipient in order, and then stops parking", async () => {
    const { parking, lane, handled, gauge, admit } = setup();
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
      await admit(NUMBER, { partition: 0, offset: 10 + i }, dispatch(id, to));
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
    expect(await admit(NUMBER, { partition: 0, offset: 30 }, dispatch("n", "1"))).toBe(false);
  });

  it("keeps parking new dispatches while a drain is still ahead of them, and drains those too", async () => {
    const { parking, lane, handled, admit } = setup();
    pause(lane);
    for (let i = 0; i < 6; i++)
      await admit(NUMBER, { partition: 0, offset: i }, dispatch(`old-${i}`, "1"));
    lane.resume();
    parking.resumed(NUMBER);
    // Arrives while the drain runs: it must queue behind the parked ones of its contact.
    expect(await admit(NUMBER, { partition: 0, offset: 6 }, dispatch("new", "1"))).toBe(true);
    await until(() => handled.length === 7);
    expect(handled).toEqual([0, 1, 2, 3, 4, 5].map((i) => `old-${i}`).concat("new"));
  });

  it("does not stop parking while a park races the drain's last look at an empty park", async () => {
    const { parking, lane, handled, store, admit } = setup();
    pause(lane);
    await admit(NUMBER, { partition: 0, offset: 1 }, dispatch("first", "1"));
    let raced = false;
    store.racing = (afterOffset, limit) => {
      // The drain's last look (from the start, one document) misses a park that lands meanwhile.
      if (afterOffset !== -1 || limit !== 1 || raced) return;
      raced = true;
      void admit(NUMBER, { partition: 0, offset: 2 }, dispatch("racer", "1"));
    };
    lane.resume();
    parking.resumed(NUMBER);
    await until(() => handled.length === 2);
    expect(raced).toBe(true);
    expect(handled).toEqual(["first", "racer"]);
    await until(() => store.docs.size === 0);
  });

  it("stops draining when the number pauses again, and keeps the rest parked in order", async () => {
    const { parking, lane, handled, store, answerWith, admit } = setup();
    pause(lane);
    for (let i = 0; i < 5; i++)
      await admit(NUMBER, { partition: 0, offset: i }, dispatch(`r-${i}`, "1"));
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
    expect(await admit(NUMBER, { partition: 0, offset: 9 }, dispatch("late", "1"))).toBe(true);
  });

  it("a new owner finds an earlier owner's park: fresh dispatches queue behind it, and it drains", async () => {
    const store = memoryStore();
    const before = setup({ store });
    pause(before.lane);
    await before.admit(NUMBER, { partition: 0, offset: 1 }, dispatch("left-1", "1"));
    await before.admit(NUMBER, { partition: 0, offset: 2 }, dispatch("left-2", "1"));
    await before.parking.stop();

    const after = setup({ store });
    expect(await after.admit(NUMBER, { partition: 0, offset: 3 }, dispatch("new", "1"))).toBe(true);
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
    await before.admit(NUMBER, { partition: 1, offset: 1 }, dispatch("p", "1"));
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

  it("overflow: on a partition it shares, a number with `above` records in memory parks the next, even behind a recipient's record in memory; they drain in order, then it stops parking", async () => {
    const { parking, handled, store, admit, finish, mainInFlight } = setup({
      overflow: { above: 2, shared: (_n, partition) => partition === 0 },
    });
    const at = (offset: number) => ({ partition: 0, offset });
    expect(await admit(NUMBER, at(1), dispatch("live-1", "1"))).toBe(false);
    expect(await admit(NUMBER, at(2), dispatch("live-2", "3"))).toBe(false);
    expect(mainInFlight()).toBe(2);
    // The bound is reached: the next ones park on arrival. Recipient 3's record in memory
    // (live-2) is ahead of its parked ones, which wait for it; recipient 4's go meanwhile.
    const parked = [
      ["o3", "3"],
      ["o4", "4"],
      ["o5", "3"],
      ["o6", "4"],
      ["o7", "3"],
    ] as const;
    for (const [i, [id, to]] of parked.entries())
      expect(await admit(NUMBER, at(3 + i), dispatch(id, to))).toBe(true);
    await until(() => handled.length === 2);
    await new Promise((r) => setTimeout(r, 60));
    expect(handled).toEqual(["o4", "o6"]);
    finish("live-2");
    await until(() => handled.length === 5);
    expect(handled.slice(2)).toEqual(["o3", "o5", "o7"]);
    await until(() => store.docs.size === 0 && parking.parked(NUMBER) === 0);
    // The park is empty and nothing is on its way to it: the next dispatch is handled again.
    finish("live-1");
    await new Promise((r) => setTimeout(r, 30));
    expect(await admit(NUMBER, at(9), dispatch("after", "3"))).toBe(false);
  });

  it("overflow: a number alone on its partition never parks, however many it holds", async () => {
    const { store, admit, mainInFlight } = setup({
      partitions: [1],
      overflow: { above: 2, shared: (_n, partition) => partition === 0 },
    });
    for (let i = 0; i < 10; i++)
      expect(
        await admit(NUMBER, { partition: 1, offset: i }, dispatch(`solo-${i}`, String(i))),
      ).toBe(false);
    expect(mainInFlight()).toBe(10);
    expect(store.docs.size).toBe(0);
  });

  it("a park that lands while the drain reads, below the page it read, goes out before the later ones of its recipient", async () => {
    const { parking, lane, handled, store, admit } = setup();
    pause(lane);
    await admit(NUMBER, { partition: 0, offset: 7 }, dispatch("y7", "Y"));
    let raced = false;
    store.racing = async (afterOffset) => {
      if (raced || afterOffset !== -1) return;
      raced = true;
      // X's record 5 parks while the page [y7] is read; X's record 9 parks after it (the
      // consumer handles one recipient's records one after another), before the next read.
      await admit(NUMBER, { partition: 0, offset: 5 }, dispatch("x5", "X"));
      await admit(NUMBER, { partition: 0, offset: 9 }, dispatch("x9", "X"));
    };
    lane.resume();
    parking.resumed(NUMBER);
    await until(() => handled.length === 3);
    expect(raced).toBe(true);
    expect(handled.filter((id) => id.startsWith("x"))).toEqual(["x5", "x9"]);
  });

  it("after a restart, a parked record waits until the topic delivers it again (its recipient's earlier records park first) or it lies below the committed offset", async () => {
    const store = memoryStore();
    // An earlier owner parked X's record 9 while X's record 5 was still in its memory (overflow),
    // so nothing from 5 on was committed.
    await store.park({
      requestId: "x9",
      number: NUMBER,
      partition: 0,
      offset: 9,
      recipient: "X",
      dispatch: dispatch("x9", "X"),
      parkedAt: new Date(),
    });
    let committed = 5;
    const after = setup({ store, committed: () => Promise.resolve(committed) });
    await after.parking.sweep();
    await new Promise((r) => setTimeout(r, 40));
    expect(after.handled).toEqual([]);
    // The topic delivers 5 again: the park is ahead of it, so it parks; then 9 (parked already).
    expect(await after.admit(NUMBER, { partition: 0, offset: 5 }, dispatch("x5", "X"))).toBe(true);
    expect(await after.admit(NUMBER, { partition: 0, offset: 9 }, dispatch("x9", "X"))).toBe(true);
    await until(() => after.handled.length === 2);
    expect(after.handled).toEqual(["x5", "x9"]);
    await until(() => store.docs.size === 0);

    // Below the committed offset a parked record is never delivered again: it drains at once.
    await store.park({
      requestId: "x12",
      number: NUMBER,
      partition: 0,
      offset: 12,
      recipient: "X",
      dispatch: dispatch("x12", "X"),
      parkedAt: new Date(),
    });
    committed = 13;
    const later = setup({ store, committed: () => Promise.resolve(committed) });
    await later.parking.sweep();
    await until(() => later.handled.length === 1);
    expect(later.handled).toEqual(["x12"]);
  });
});
