import { randomBytes } from "node:crypto";
import { UnstorableStateError, type StateStore, type Stored } from "@parley/decider";
import { retryOf } from "@parley/errors";
import { describe, expect, it } from "vitest";

/** The state the contract suite stores: a key, a list, and any JSON-like payload. */
export interface ContractState {
  readonly key: string;
  readonly items: readonly string[];
  readonly payload: unknown;
}

/** The outbox events the contract suite stores. */
export interface ContractEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
}

export type ContractStore = StateStore<ContractState, ContractEvent>;

const nested = (depth: number): unknown => {
  let value: unknown = "bottom";
  for (let i = 1; i < depth; i++) value = { inner: value };
  return value;
};

/**
 * The StateStore contract (conventions 8): the same suite runs against the in-memory store (a
 * unit spec) and every real adapter (an int spec), so the handler's unit tests can trust the
 * fake. Every store `makeStore` returns must see the same data (one in-memory store, or adapters
 * over one collection): the concurrency case writes through several at once, as processes do.
 * Each test uses keys of its own, so a spec may share the collection across tests.
 */
export function describeStateStore(
  name: string,
  makeStore: () => ContractStore | Promise<ContractStore>,
): void {
  const run = randomBytes(3).toString("hex");
  let n = 0;
  const fresh = (label = "k") => `${label}-${run}-${++n}`;
  const state = (key: string, items: readonly string[] = [], payload: unknown = null) => ({
    key,
    items,
    payload,
  });
  const event = (key: string, id: string, data: unknown = { n: 1 }): ContractEvent => ({
    id: `${key}:${id}`,
    type: "Happened",
    data,
  });
  const load = async (store: ContractStore, key: string) => {
    const found = (await store.loadMany([key])).get(key);
    if (found instanceof Error) throw found;
    return found;
  };
  const write = async (
    store: ContractStore,
    key: string,
    expectedVersion: number,
    {
      items = [],
      outbox = [],
      payload = null,
    }: {
      items?: readonly string[];
      outbox?: readonly ContractEvent[];
      payload?: unknown;
    } = {},
  ) =>
    !(
      await store.saveMany([{ key, state: state(key, items, payload), outbox, expectedVersion }])
    ).has(key);
  const failureOf = async (work: Promise<unknown>): Promise<unknown> =>
    work.then(
      () => undefined,
      (error: unknown) => error,
    );

  describe(`StateStore contract: ${name}`, () => {
    it("loads nothing for keys never written, and answers an empty call", async () => {
      const store = await makeStore();
      expect((await store.loadMany([fresh(), fresh()])).size).toBe(0);
      expect((await store.loadMany([])).size).toBe(0);
      expect((await store.saveMany([])).size).toBe(0);
      await store.markPublished([]);
    });

    it("saves version 1 from 0 and returns state and outbox as given", async () => {
      const store = await makeStore();
      const key = fresh();
      const payload = {
        text: "olá 👋 \u0000 end",
        list: [1, 2.5, -3, [], [[]], { a: null }],
        flag: false,
        at: new Date("2026-03-01T10:00:00.000Z"),
        empty: {},
      };
      const outbox = [event(key, "1", payload), event(key, "2")];
      expect(await write(store, key, 0, { items: ["a", "b"], outbox, payload })).toBe(true);
      const loaded: Stored<ContractState, ContractEvent> | undefined = await load(store, key);
      expect(loaded).toEqual({ state: state(key, ["a", "b"], payload), version: 1, outbox });
    });

    it("refuses a second first write and a write at a stale version", async () => {
      const store = await makeStore();
      const key = fresh();
      expect(await write(store, key, 0, { items: ["first"] })).toBe(true);
      expect(await write(store, key, 0, { items: ["second first"] })).toBe(false);
      expect(await write(store, key, 1, { items: ["v2"] })).toBe(true);
      expect(await write(store, key, 1, { items: ["stale"] })).toBe(false);
      expect(await write(store, key, 5, { items: ["ahead"] })).toBe(false);
      expect(await load(store, key)).toMatchObject({ version: 2, state: { items: ["v2"] } });
    });

    it("takes many keys per call: loads those that exist and refuses only the stale writes", async () => {
      const store = await makeStore();
      const [a, b, c, d] = [fresh(), fresh(), fresh(), fresh()];
      await write(store, a, 0);
      await write(store, b, 0);
      const found = await store.loadMany([a, b, c]);
      expect([...found.keys()].sort()).toEqual([a, b].sort());
      const lost = await store.saveMany([
        { key: a, state: state(a, ["a2"]), outbox: [event(a, "1")], expectedVersion: 1 },
        { key: b, state: state(b), outbox: [], expectedVersion: 0 },
        { key: c, state: state(c, ["c1"]), outbox: [event(c, "1")], expectedVersion: 0 },
        { key: d, state: state(d), outbox: [], expectedVersion: 3 },
      ]);
      expect([...lost].sort()).toEqual([b, d].sort());
      expect(await load(store, a)).toMatchObject({ version: 2, outbox: [event(a, "1")] });
      expect(await load(store, b)).toMatchObject({ version: 1 });
      expect(await load(store, c)).toMatchObject({ version: 1, state: { items: ["c1"] } });
      expect(await load(store, d)).toBeUndefined();
    });

    it("lets exactly one of many concurrent writers of a version win, per key", async () => {
      const stores: ContractStore[] = [];
      for (let i = 0; i < 6; i++) stores.push(await makeStore());
      const [a, b] = [fresh(), fresh()];
      for (const version of [0, 1, 2]) {
        const results = await Promise.all(
          stores.map((store, writer) =>
            store.saveMany(
              [a, b].map((key) => ({
                key,
                state: state(key, [`writer ${writer}`]),
                outbox: [event(key, `${version}-${writer}`)],
                expectedVersion: version,
              })),
            ),
          ),
        );
        for (const key of [a, b]) {
          const winners = results.flatMap((lost, writer) => (lost.has(key) ? [] : [writer]));
          expect(winners, `winners for ${key} at version ${version}`).toHaveLength(1);
          const loaded = await load(await makeStore(), key);
          expect(loaded?.version).toBe(version + 1);
          expect(loaded?.state.items).toEqual([`writer ${winners[0]}`]);
          expect(loaded?.outbox).toEqual([event(key, `${version}-${winners[0]}`)]);
        }
      }
    });

    it("shows an outbox until its version is marked published; an older mark never hides a newer one", async () => {
      const store = await makeStore();
      const key = fresh();
      const [first, second] = [event(key, "1"), event(key, "2")];
      await write(store, key, 0, { outbox: [first] });
      await write(store, key, 1, { outbox: [second] });
      // The first writer's mark arrives after a second write: the second outbox stays.
      await store.markPublished([{ key, version: 1 }]);
      expect((await load(store, key))?.outbox).toEqual([second]);
      await store.markPublished([{ key, version: 2 }]);
      expect(await load(store, key)).toMatchObject({ version: 2, outbox: [] });
      // A late mark of an older version changes nothing; a new write brings its own outbox.
      await store.markPublished([{ key, version: 1 }]);
      expect((await load(store, key))?.outbox).toEqual([]);
      await write(store, key, 2, { outbox: [first] });
      expect((await load(store, key))?.outbox).toEqual([first]);
    });

    it("marks many keys per call, and a mark for a key never written creates nothing", async () => {
      const store = await makeStore();
      const [a, b, ghost] = [fresh(), fresh(), fresh()];
      await write(store, a, 0, { outbox: [event(a, "1")] });
      await write(store, b, 0, { outbox: [event(b, "1")] });
      await store.markPublished([
        { key: a, version: 1 },
        { key: b, version: 1 },
        { key: ghost, version: 1 },
      ]);
      expect((await load(store, a))?.outbox).toEqual([]);
      expect((await load(store, b))?.outbox).toEqual([]);
      expect(await load(store, ghost)).toBeUndefined();
    });

    it("stores a document nested within the limit", async () => {
      const store = await makeStore();
      const key = fresh();
      const payload = nested(60);
      expect(await write(store, key, 0, { payload, outbox: [event(key, "1", nested(60))] })).toBe(
        true,
      );
      expect((await load(store, key))?.state.payload).toEqual(payload);
    });

    it("refuses a document nested too deep before writing anything, naming its key; the other keys are unaffected", async () => {
      const store = await makeStore();
      const [good, deep, deeper] = [fresh("good"), fresh("deep"), fresh("deeper")];
      const together = await failureOf(
        store.saveMany([
          { key: good, state: state(good, ["g"]), outbox: [], expectedVersion: 0 },
          { key: deep, state: state(deep, [], nested(150)), outbox: [], expectedVersion: 0 },
        ]),
      );
      expect(together).toBeInstanceOf(UnstorableStateError);
      expect(retryOf(together)).toBe("never");
      expect((together as UnstorableStateError).key).toBe(deep);
      expect(await load(store, good)).toBeUndefined();
      // Alone, the good write lands and the deep one fails the same way again.
      expect(await write(store, good, 0, { items: ["g"] })).toBe(true);
      expect(await failureOf(write(store, deep, 0, { payload: nested(150) }))).toBeInstanceOf(
        UnstorableStateError,
      );
      // A hostile event 10,000 levels deep is refused the same way, without exhausting the stack.
      const hostile = await failureOf(
        write(store, deeper, 0, { outbox: [event(deeper, "1", nested(10_000))] }),
      );
      expect(hostile).toBeInstanceOf(UnstorableStateError);
      expect((hostile as UnstorableStateError).key).toBe(deeper);
      expect((await store.loadMany([good, deep, deeper])).size).toBe(1);
      await store.markPublished([{ key: good, version: 1 }]);
      expect(await load(store, good)).toMatchObject({ version: 1, state: { items: ["g"] } });
    });
  });
}
