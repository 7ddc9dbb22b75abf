import { isOutage, ParleyError, retryOf } from "@parley/errors";
import { describe, expect, it } from "vitest";
import type { Keyed } from "./decider.js";
import { DecisionConflictError, UnpublishableEventError, UnstorableStateError } from "./errors.js";
import {
  createCommandHandler,
  DECIDE_SLICE,
  type CommandHandlerOptions,
  type ContextLoader,
} from "./handler.js";
import { createMemoryStateStore, type MemoryStateStore } from "./memory-store.js";
import type { Publish, StateStore } from "./store.js";
import {
  ofKey,
  outage,
  probe,
  refused,
  refusingPublisher,
  tally,
  type Added,
  type TallyCommand,
  type TallyContext,
  type TallyEvent,
  type TallyState,
} from "./tally.unit-helpers.js";

const NOW = new Date("2026-03-01T10:00:00.000Z");
const sameContext: ContextLoader<TallyCommand, TallyContext> = (commands) =>
  commands.map(() => ({ now: NOW }));

type Options = CommandHandlerOptions<TallyState, TallyCommand, TallyEvent, TallyContext, Added>;

function setup(
  overrides: Partial<Options> = {},
  memory: MemoryStateStore<TallyState, Added> = createMemoryStateStore(),
) {
  const probed = probe(memory);
  const publisher = refusingPublisher();
  const observed: string[] = [];
  const handler = createCommandHandler({
    decider: tally,
    store: probed.store,
    publish: publisher.publish,
    context: sameContext,
    clock: () => NOW,
    observer: {
      decided: (key, command, events) => observed.push(`${key}/${command.id}:${events.length}`),
      conflict: (key) => observed.push(`conflict:${key}`),
      dropped: (key, event) => observed.push(`dropped:${key}/${event.data.commandId}`),
    },
    ...overrides,
  });
  return { handler, memory, observed, ...probed, ...publisher };
}

const cmd = (id: string, add = 1, more: Partial<TallyCommand> = {}): TallyCommand => ({
  id,
  add,
  ...more,
});
const to = (key: string, ...commands: TallyCommand[]): Keyed<TallyCommand>[] =>
  commands.map((command) => ({ key, command }));

describe("command handler: deciding", () => {
  it("decides each key's commands in order, publishes only the outputs, and keeps the internal records in the state", async () => {
    const { handler, published, memory } = setup();
    await handler.handle([...to("a", cmd("1", 2), cmd("2", 3)), ...to("b", cmd("1", 10))]);
    await handler.handle(to("a", cmd("3", 1, { quiet: true }), cmd("4", 1)));
    expect(ofKey(published, "a")).toEqual(["1=2", "2=5", "4=6"]);
    expect(ofKey(published, "b")).toEqual(["1=10"]);
    expect(memory.peek("a")).toMatchObject({
      version: 2,
      publishedVersion: 2,
      state: { total: 6, seen: ["1", "2", "3", "4"] },
    });
  });

  it("a redelivered command decides nothing and writes nothing", async () => {
    const { handler, published, calls, observed } = setup();
    await handler.handle(to("a", cmd("1")));
    calls.length = 0;
    await handler.handle(to("a", cmd("1")));
    expect(ofKey(published, "a")).toEqual(["1=1"]);
    expect(calls).toEqual([]);
    expect(observed).toEqual(["a/1:2", "a/1:0"]);
  });

  it("keeps each key's order under concurrent calls, in the order they were made", async () => {
    const { handler, published } = setup({ batchesInFlight: 3, maxBatchKeys: 2 });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => handler.handle(to(`k${i % 3}`, cmd(String(i))))),
    );
    for (const k of [0, 1, 2]) {
      const ids = Array.from({ length: 20 }, (_, j) => String(k + 3 * j));
      expect(ofKey(published, `k${k}`)).toEqual(ids.map((id, j) => `${id}=${j + 1}`));
    }
  });

  it("gives each command the context loaded for it, and decides again once with a fresher one", async () => {
    const seen: string[] = [];
    const { handler, published } = setup({
      context: (commands, now) => {
        seen.push(commands.map(({ key, command }) => `${key}/${command.id}`).join(","));
        return commands.map(({ command }) =>
          command.id === "bad"
            ? new ParleyError("no catalog", { retry: "bounded" })
            : { now, bonus: command.add * 100 },
        );
      },
      reconsider: ({ command, context }) =>
        command.id === "stale" ? { ...context, bonus: 1_000 } : undefined,
    });
    await handler.handle(to("a", cmd("1", 1), cmd("stale", 1)));
    expect(seen).toEqual(["a/1,a/stale"]);
    expect(ofKey(published, "a")).toEqual(["1=101", "stale=1102"]);
    const bad = handler.handle([...to("b", cmd("bad")), ...to("c", cmd("1", 0))]);
    await expect(bad).rejects.toMatchObject({ message: "no catalog", retry: "bounded" });
    expect(ofKey(published, "b")).toEqual([]);
    expect(ofKey(published, "c")).toEqual(["1=0"]);
  });

  it("waits for a second look that answers with a promise, the key's later commands after it, and fails only that key when it rejects", async () => {
    const { handler, published } = setup({
      context: (commands, now) => commands.map(({ command }) => ({ now, bonus: command.add })),
      reconsider: async ({ command, context }) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (command.id === "broken") throw new ParleyError("sync failed", { retry: "bounded" });
        return command.id === "stale" ? { ...context, bonus: 1_000 } : undefined;
      },
    });
    await handler.handle([...to("a", cmd("stale", 1), cmd("2", 1)), ...to("b", cmd("1", 2))]);
    // a's second command was decided on the state the reconsidered first one left.
    expect(ofKey(published, "a")).toEqual(["stale=1001", "2=1003"]);
    expect(ofKey(published, "b")).toEqual(["1=4"]);
    const broken = handler.handle([...to("c", cmd("broken")), ...to("d", cmd("1", 1))]);
    await expect(broken).rejects.toMatchObject({ message: "sync failed", retry: "bounded" });
    expect(ofKey(published, "c")).toEqual([]);
    expect(ofKey(published, "d")).toEqual(["1=2"]);
  });

  it("bounds the state with retain before each save", async () => {
    const { handler, memory } = setup({
      retain: (state, now) => {
        expect(now).toBe(NOW);
        return { ...state, seen: state.seen.slice(-2) };
      },
    });
    await handler.handle(to("a", cmd("1"), cmd("2"), cmd("3")));
    expect(memory.peek("a")?.state.seen).toEqual(["2", "3"]);
  });

  it("refuses options that cannot work, saying which", () => {
    expect(() => setup({ cacheSize: -1 })).toThrow(/cacheSize must be a whole number >= 0/);
    expect(() => setup({ batchesInFlight: 0 })).toThrow(RangeError);
    expect(() => setup({ maxBatchKeys: 1.5 })).toThrow(RangeError);
    expect(() => setup({ maxConflicts: 0 })).toThrow(RangeError);
  });
});

describe("command handler: group commit and cache", () => {
  it("runs each step once per batch: one load, one save, one publish, one mark", async () => {
    const { handler, calls, published, publishCalls } = setup();
    await Promise.all(Array.from({ length: 8 }, (_, i) => handler.handle(to(`k${i}`, cmd("1")))));
    expect(calls).toEqual(["load:8", "save:8", "mark:8"]);
    expect(publishCalls).toEqual([8]);
    expect(published).toHaveLength(8);
    // A key's second call waits for its first; the cache spares the load.
    calls.length = 0;
    await Promise.all([handler.handle(to("k1", cmd("2"))), handler.handle(to("k1", cmd("3")))]);
    expect(calls).toEqual(["save:1", "mark:1", "save:1", "mark:1"]);
    expect(ofKey(published, "k1")).toEqual(["1=1", "2=2", "3=3"]);
  });

  it("splits batches at maxBatchKeys and runs at most batchesInFlight at once", async () => {
    let inFlight = 0;
    let most = 0;
    const memory = createMemoryStateStore<TallyState, Added>();
    const slow: StateStore<TallyState, Added> = {
      ...memory,
      async saveMany(writes) {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return memory.saveMany(writes);
      },
    };
    const { handler } = setup({ store: slow, batchesInFlight: 1, maxBatchKeys: 3 }, memory);
    await Promise.all(Array.from({ length: 7 }, (_, i) => handler.handle(to(`k${i}`, cmd("1")))));
    expect(most).toBe(1);
    const probed = setup({ batchesInFlight: 2, maxBatchKeys: 3 });
    await Promise.all(
      Array.from({ length: 7 }, (_, i) => probed.handler.handle(to(`k${i}`, cmd("1")))),
    );
    expect(probed.calls.filter((c) => c.startsWith("save"))).toEqual([
      "save:3",
      "save:3",
      "save:1",
    ]);
  });

  it("keeps at most cacheSize keys in memory (least recently used go first); 0 reads the store every time", async () => {
    const lru = setup({ cacheSize: 1 });
    await lru.handler.handle(to("a", cmd("1")));
    await lru.handler.handle(to("b", cmd("1")));
    lru.calls.length = 0;
    await lru.handler.handle(to("b", cmd("2")));
    await lru.handler.handle(to("a", cmd("2")));
    expect(lru.calls).toEqual(["save:1", "mark:1", "load:1", "save:1", "mark:1"]);

    const none = setup({ cacheSize: 0 });
    await none.handler.handle(to("a", cmd("1")));
    await none.handler.handle(to("a", cmd("1")));
    expect(none.calls).toEqual(["load:1", "save:1", "mark:1", "load:1"]);
  });

  it("a stale cached state (another process wrote since) is caught by the version and decided again", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const a = setup({}, memory);
    const b = setup({}, memory);
    await a.handler.handle(to("k", cmd("1"))); // a caches k at version 1
    await b.handler.handle(to("k", cmd("2"))); // version 2, unknown to a
    await a.handler.handle(to("k", cmd("2"), cmd("3")));
    expect(a.observed).toContain("conflict:k");
    expect([...ofKey(a.published, "k"), ...ofKey(b.published, "k")].sort()).toEqual(
      ["1=1", "2=2", "3=3"].sort(),
    );
  });
});

describe("command handler: conflicts", () => {
  /** Another writer saves the key first, `times` times, changing nothing but the version. */
  const interfere = (memory: MemoryStateStore<TallyState, Added>, times: number) => {
    let left = times;
    return (keys: readonly string[]) => {
      for (const key of keys) {
        if (left-- <= 0) return;
        const record = memory.peek(key);
        void memory.saveMany([
          {
            key,
            state: record?.state ?? tally.initialState(key),
            outbox: record?.outbox ?? [],
            expectedVersion: record?.version ?? 0,
          },
        ]);
      }
    };
  };

  it("decides again on fresh state when another writer saved first, and reports each conflict", async () => {
    const { handler, published, memory, before, observed, calls } = setup();
    before.saveMany = interfere(memory, 2);
    await handler.handle(to("k", cmd("1")));
    expect(ofKey(published, "k")).toEqual(["1=1"]);
    expect(observed).toEqual(["conflict:k", "conflict:k", "k/1:2"]);
    expect(calls).toEqual(["load:1", "save:1", "load:1", "save:1", "load:1", "save:1", "mark:1"]);
    expect(memory.peek("k")?.version).toBe(3);
  });

  it("gives up after maxConflicts with a bounded DecisionConflictError, holding the others of the batch back not at all", async () => {
    const { handler, published, memory, before } = setup({ maxConflicts: 3 });
    const bump = interfere(memory, 1_000);
    before.saveMany = (keys) => {
      if (keys.includes("hot")) bump(["hot"]);
    };
    const hot = handler.handle(to("hot", cmd("1")));
    const calm = handler.handle(to("calm", cmd("1")));
    await expect(hot).rejects.toBeInstanceOf(DecisionConflictError);
    await expect(hot).rejects.toMatchObject({ retry: "bounded", key: "hot" });
    await calm;
    expect(ofKey(published, "calm")).toEqual(["1=1"]);
    expect(ofKey(published, "hot")).toEqual([]);
  });
});

describe("command handler: crashes", () => {
  it("a crash between the save and the publish loses nothing: the outbox goes out again with the same ids, nothing new is decided", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    // The process dies while publishing: the publish never returns.
    const dying = setup({ publish: () => new Promise<void>(() => undefined) }, memory);
    void dying.handler.handle(to("k", cmd("1")));
    await expect.poll(() => memory.peek("k")?.outbox.length).toBe(1);
    const [saved] = memory.peek("k")?.outbox ?? [];
    // The next owner (cold cache) gets the same input again.
    const next = setup({}, memory);
    await next.handler.handle(to("k", cmd("1")));
    expect(next.published).toEqual([saved]);
    expect(memory.peek("k")).toMatchObject({ version: 2, publishedVersion: 2 });
    await next.handler.handle(to("k", cmd("1")));
    expect(next.published).toHaveLength(1);
  });

  it("an outbox a crash left behind goes out before the key's next outputs", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const first = setup({}, memory);
    first.faults.next.push(outage("broker"));
    await expect(first.handler.handle(to("k", cmd("1")))).rejects.toSatisfy(isOutage);
    const next = setup({}, memory);
    await next.handler.handle(to("k", cmd("2")));
    expect(ofKey(next.published, "k")).toEqual(["1=1", "2=2"]);
  });

  it("a failed mark re-publishes the same events next time, and nothing more", async () => {
    const { handler, published, before } = setup();
    before.markPublished = () => {
      before.markPublished = undefined;
      throw outage("database");
    };
    await expect(handler.handle(to("k", cmd("1")))).rejects.toSatisfy(isOutage);
    await handler.handle(to("k", cmd("1")));
    expect(published.map((e) => e.id)).toEqual(["k:1", "k:1"]);
    await handler.handle(to("k", cmd("2")));
    expect(ofKey(published, "k")).toEqual(["1=1", "1=1", "2=2"]);
  });
});

describe("command handler: failure isolation", () => {
  const batchOf = (
    handler: { handle: (c: Keyed<TallyCommand>[]) => Promise<void> },
    poison: TallyCommand,
  ) =>
    ["g1", "bad", "g2"].map((key) =>
      handler.handle(to(key, key === "bad" ? poison : cmd("1"))),
    ) as [Promise<void>, Promise<void>, Promise<void>];

  it("a document the store refuses fails its own key only; the rest of its batch is saved and published", async () => {
    const { handler, published, calls, memory } = setup();
    const [good1, bad, good2] = batchOf(handler, cmd("1", 1, { deep: 150 }));
    await expect(bad).rejects.toBeInstanceOf(UnstorableStateError);
    await expect(bad).rejects.toMatchObject({ retry: "never", key: "bad" });
    await Promise.all([good1, good2]);
    expect(calls).toEqual(["load:3", "save:3", "save:1", "save:1", "save:1", "mark:2"]);
    expect(published.map((e) => e.key).sort()).toEqual(["g1", "g2"]);
    expect(memory.peek("bad")).toBeUndefined();
    // The key is not stuck: its next valid command goes through.
    await handler.handle(to("bad", cmd("2")));
    expect(ofKey(published, "bad")).toEqual(["2=1"]);
  });

  it("an event the publish port refuses fails its own key only, is dropped from the outbox and reported; the key's later outputs flow", async () => {
    const { handler, published, memory, observed } = setup();
    const [good1, bad, good2] = batchOf(handler, cmd("x", 1, { toxic: true }));
    const failure = await bad.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnpublishableEventError);
    expect(retryOf(failure)).toBe("never");
    expect((failure as UnpublishableEventError<Added>).dropped.map((e) => e.id)).toEqual(["bad:x"]);
    await Promise.all([good1, good2]);
    expect(published.map((e) => e.key).sort()).toEqual(["g1", "g2"]);
    expect(observed).toContain("dropped:bad/x");
    // The state change is kept, the refused event is out of the outbox.
    expect(memory.peek("bad")).toMatchObject({
      version: 1,
      publishedVersion: 1,
      state: { total: 1 },
    });
    await handler.handle(to("bad", cmd("y")));
    expect(ofKey(published, "bad")).toEqual(["y=2"]);
  });

  it("a refused event an earlier attempt left behind is dropped and reported without failing the input that found it", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const first = setup({}, memory);
    // The input that decided the toxic event dies before publishing it.
    first.faults.next.push(outage("broker"));
    await expect(first.handler.handle(to("k", cmd("x", 1, { toxic: true })))).rejects.toSatisfy(
      isOutage,
    );
    const next = setup({}, memory);
    await next.handler.handle(to("k", cmd("y")));
    expect(ofKey(next.published, "k")).toEqual(["y=2"]);
    expect(next.observed).toContain("dropped:k/x");
    expect(memory.peek("k")).toMatchObject({ version: 2, publishedVersion: 2 });
  });

  it("a leftover outbox that makes the next write too large is published first, so the key is not stuck", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    // A store that refuses any document carrying three outbox events or more (say, the size limit).
    const limited: StateStore<TallyState, Added> = {
      ...memory,
      saveMany: (writes) =>
        writes.some((w) => w.outbox.length >= 3)
          ? Promise.reject(refused("document too large"))
          : memory.saveMany(writes),
    };
    const first = setup({ store: limited }, memory);
    first.faults.next.push(outage("broker"));
    await expect(first.handler.handle(to("k", cmd("1"), cmd("2")))).rejects.toSatisfy(isOutage);
    expect(memory.peek("k")?.outbox).toHaveLength(2);
    const next = setup({ store: limited }, memory);
    await next.handler.handle(to("k", cmd("3")));
    expect(ofKey(next.published, "k")).toEqual(["1=1", "2=2", "3=3"]);
    expect(memory.peek("k")).toMatchObject({ version: 2, publishedVersion: 2 });
    // New outputs that are too large by themselves still fail their own input only.
    await expect(next.handler.handle(to("k", cmd("4"), cmd("5"), cmd("6")))).rejects.toMatchObject({
      retry: "never",
    });
    expect(ofKey(next.published, "k")).toEqual(["1=1", "2=2", "3=3"]);
  });

  it("publishes a poison key's other events in order around the refused one", async () => {
    const { handler, published } = setup();
    await expect(
      handler.handle(to("k", cmd("1"), cmd("2", 1, { toxic: true }), cmd("3"))),
    ).rejects.toBeInstanceOf(UnpublishableEventError);
    expect(ofKey(published, "k")).toEqual(["1=1", "3=3"]);
  });

  it("an outage fails the whole batch with the outage error; the retry completes it", async () => {
    const { handler, published, before } = setup();
    before.saveMany = () => {
      before.saveMany = undefined;
      throw outage("database");
    };
    const results = await Promise.allSettled(
      ["a", "b", "c"].map((key) => handler.handle(to(key, cmd("1")))),
    );
    expect(results.map((r) => r.status === "rejected" && isOutage(r.reason))).toEqual([
      true,
      true,
      true,
    ]);
    expect(published).toEqual([]);
    await Promise.all(["a", "b", "c"].map((key) => handler.handle(to(key, cmd("1")))));
    expect(published.map((e) => e.id).sort()).toEqual(["a:1", "b:1", "c:1"]);
  });

  it("a publish outage fails the batch; the retry publishes the saved outboxes with the same ids", async () => {
    const { handler, published, faults } = setup();
    faults.next.push(outage("broker"));
    const results = await Promise.allSettled(
      ["a", "b"].map((key) => handler.handle(to(key, cmd("1")))),
    );
    expect(results.every((r) => r.status === "rejected" && isOutage(r.reason))).toBe(true);
    await Promise.all(["a", "b"].map((key) => handler.handle(to(key, cmd("1")))));
    expect(published.map((e) => e.id).sort()).toEqual(["a:1", "b:1"]);
  });

  it("a failure of the whole load that is not an outage is retried key by key", async () => {
    const { handler, published, before, calls } = setup();
    before.loadMany = (keys) => {
      if (keys.length > 1 || keys.includes("bad")) throw refused("query");
    };
    const [a, bad, b] = ["a", "bad", "b"].map((key) => handler.handle(to(key, cmd("1"))));
    await expect(bad).rejects.toThrow(/query refused/);
    await Promise.all([a, b]);
    expect(calls.slice(0, 4)).toEqual(["load:3", "load:1", "load:1", "load:1"]);
    expect(published.map((e) => e.key).sort()).toEqual(["a", "b"]);
  });

  it("an unreadable stored document, a failing decide and a failing context each fail their own key", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const unreadable: StateStore<TallyState, Added> = {
      ...memory,
      async loadMany(keys) {
        const found = new Map(await memory.loadMany(keys));
        if (keys.includes("unreadable")) found.set("unreadable", refused("document"));
        return found;
      },
    };
    const { handler, published } = setup({
      store: unreadable,
      decider: {
        ...tally,
        decide: (command, state, ctx) => {
          if (command.id === "bug") throw new TypeError("decider bug");
          return tally.decide(command, state, ctx);
        },
      },
    });
    const outcomes = await Promise.allSettled([
      handler.handle(to("unreadable", cmd("1"))),
      handler.handle(to("buggy", cmd("bug"))),
      handler.handle(to("fine", cmd("1"))),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "fulfilled"]);
    expect(published.map((e) => e.key)).toEqual(["fine"]);
  });

  it("a call spanning keys resolves only when all are durable, and rejects with the most retriable failure", async () => {
    // One key per batch, so each key's failure is its own.
    const { handler, published, before } = setup({ maxBatchKeys: 1 });
    before.saveMany = (keys) => {
      if (keys.includes("later")) throw outage("database");
    };
    const call = handler.handle([
      ...to("poison", cmd("1", 1, { deep: 200 })),
      ...to("fine", cmd("1")),
    ]);
    await expect(call).rejects.toMatchObject({ retry: "never" });
    expect(published.map((e) => e.key)).toEqual(["fine"]);
    // One key never, one key outage: the outage wins, so the input is retried, not dead-lettered.
    const mixed = handler.handle([
      ...to("poison", cmd("2", 1, { deep: 200 })),
      ...to("later", cmd("1")),
    ]);
    await expect(mixed).rejects.toSatisfy(isOutage);
  });
});

describe("command handler: ports", () => {
  it("publishes through the port in one call per batch, each key's outbox contiguous and in order", async () => {
    const batches: string[][] = [];
    const publish: Publish<Added> = (events) => {
      batches.push(events.map((e) => e.id));
      return Promise.resolve();
    };
    const { handler } = setup({ publish });
    await Promise.all([
      handler.handle(to("a", cmd("1"), cmd("2"))),
      handler.handle(to("b", cmd("1"), cmd("2"))),
    ]);
    expect(batches).toEqual([["a:1", "a:2", "b:1", "b:2"]]);
  });
});

describe("command handler: other work gets its turn during a large batch (issue 23)", () => {
  it(`decides at most ${String(DECIDE_SLICE)} keys between two turns of the event loop, and still each key once, in one batch`, async () => {
    const order: string[] = [];
    const keys = Array.from({ length: 5 * DECIDE_SLICE }, (_, i) => `k${String(i)}`);
    const { handler, memory, calls } = setup({
      decider: {
        ...tally,
        decide: (command, state, ctx) => {
          order.push("decide");
          return tally.decide(command, state, ctx);
        },
      },
    });
    // Work that arrives as the batch starts deciding (a STOP's fetch, say), one turn at a time.
    let turns = 0;
    const other = () => {
      order.push("other");
      if (++turns < keys.length) setImmediate(other);
    };
    const handling = handler.handle(keys.map((key) => ({ key, command: cmd(`c-${key}`) })));
    setImmediate(other);
    await handling;
    // The longest run of decisions with no other work between them.
    let run = 0;
    let longest = 0;
    for (const step of order) {
      run = step === "decide" ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    expect(order.filter((s) => s === "decide")).toHaveLength(keys.length);
    expect(longest).toBeLessThanOrEqual(DECIDE_SLICE);
    expect(calls.filter((c) => c.startsWith("save:"))).toEqual([`save:${String(keys.length)}`]);
    const stored = await memory.loadMany(keys);
    for (const key of keys) {
      const one = stored.get(key);
      expect(one instanceof Error ? one : one?.version).toBe(1);
    }
  });
});
