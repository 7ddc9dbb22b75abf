import {
  describeStateStore,
  startStack,
  type ContractEvent,
  type ContractState,
  type Stack,
} from "@parley/testkit";
import fc from "fast-check";
import { MongoClient, type Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongo, type MongoConnection } from "./connection.js";
import { createMongoStateStore, type StateDocument } from "./state-store.js";

// The MongoDB StateStore that remembers its keys (`rememberKeys`): a save of a remembered key
// sends only what changed. The shared contract suite, then the promise that the stored document
// is the same as a whole-document save would leave, whatever the lists did, against the real
// MongoDB-wire server.
let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("state-delta");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const remembering = (collection: string, rememberKeys = 100) =>
  createMongoStateStore<ContractState, ContractEvent>({
    db: mongo.db,
    collection,
    rememberKeys,
    // The state's own list, as the router's contact store does.
    toDocument: ({ items, payload }) => ({ items, payload }),
    fromDocument: (doc, key) => ({
      key,
      items: doc["items"] as string[],
      payload: doc["payload"],
    }),
  });

describeStateStore("MongoDB, saves of what changed", () => remembering("contract_delta"));

/** What a decision may do to a list: keep, append, drop the oldest, drop any, or rewrite it. */
const step = fc.oneof(
  fc.record({
    kind: fc.constant("append" as const),
    items: fc.array(fc.string(), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("trim" as const), keep: fc.nat({ max: 12 }) }),
  fc.record({ kind: fc.constant("dropAt" as const), at: fc.nat({ max: 12 }) }),
  fc.record({
    kind: fc.constant("rewrite" as const),
    items: fc.array(fc.string(), { maxLength: 5 }),
  }),
  fc.record({ kind: fc.constant("payload" as const), payload: fc.jsonValue({ maxDepth: 3 }) }),
  fc.constant({ kind: "same" as const }),
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function apply(state: ContractState, s: Step): ContractState {
  switch (s.kind) {
    case "append":
      return { ...state, items: [...state.items, ...s.items] };
    case "trim":
      return {
        ...state,
        items:
          s.keep >= state.items.length
            ? state.items
            : state.items.slice(-s.keep || state.items.length),
      };
    case "dropAt":
      return { ...state, items: state.items.filter((_, i) => i !== s.at) };
    case "rewrite":
      return { ...state, items: s.items };
    case "payload":
      return { ...state, payload: s.payload };
    case "same":
      return state;
  }
}

describe("MongoDB StateStore remembering its keys", () => {
  it("leaves the same document as a whole-document save after any sequence of list changes (property)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (steps, reload) => {
          const key = `p${String(++run)}`;
          const store = remembering("property");
          let state: ContractState = { key, items: ["a", "b"], payload: null };
          await store.saveMany([{ key, state, outbox: [], expectedVersion: 0 }]);
          let version = 1;
          // Half the runs read the key back first: its loaded fields are what is remembered then.
          if (reload) {
            const loaded = (await store.loadMany([key])).get(key);
            if (loaded === undefined || loaded instanceof Error) throw new Error("not loaded");
            state = loaded.state;
          }
          for (const s of steps) {
            state = apply(state, s);
            const outbox = [{ id: `${key}:${String(version)}`, type: "Happened", data: {} }];
            const lost = await store.saveMany([{ key, state, outbox, expectedVersion: version }]);
            expect(lost.size).toBe(0);
            version++;
            const doc = await mongo.db.collection<StateDocument>("property").findOne({ _id: key });
            expect(doc?.["items"]).toEqual(state.items);
            expect(doc?.["payload"]).toEqual(state.payload);
            expect(doc?.version).toBe(version);
            expect(doc?.outbox).toEqual(outbox);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a document replaced behind its back at the same version is a lost race, never a change applied to the wrong base", async () => {
    const store = remembering("behind");
    const key = "k";
    await store.saveMany([
      { key, state: { key, items: ["a"], payload: 1 }, outbox: [], expectedVersion: 0 },
    ]);
    // Someone else's version 1 (a restore, another writer's insert after a delete).
    await mongo.db.collection<StateDocument>("behind").replaceOne(
      { _id: key },
      {
        _id: key,
        version: 1,
        writeId: "someone-else",
        outbox: [],
        updatedAt: new Date(),
        items: ["x", "y"],
        payload: 2,
      },
    );
    const lost = await store.saveMany([
      { key, state: { key, items: ["a", "b"], payload: 1 }, outbox: [], expectedVersion: 1 },
    ]);
    expect([...lost]).toEqual([key]);
    const doc = await mongo.db.collection<StateDocument>("behind").findOne({ _id: key });
    expect(doc).toMatchObject({ version: 1, writeId: "someone-else", items: ["x", "y"] });
    // Read again (as the runtime does after a lost race), the next save lands on that base.
    const again = (await store.loadMany([key])).get(key);
    if (again === undefined || again instanceof Error) throw new Error("not loaded");
    const next = { ...again.state, items: [...again.state.items, "z"] };
    expect(
      (await store.saveMany([{ key, state: next, outbox: [], expectedVersion: 1 }])).size,
    ).toBe(0);
    const after = await mongo.db.collection<StateDocument>("behind").findOne({ _id: key });
    expect(after).toMatchObject({ version: 2, items: ["x", "y", "z"], payload: 2 });
  });

  it("sends only the new tail of a long list, not the list", async () => {
    const client = new MongoClient(stack.mongoUrl, { monitorCommands: true });
    const sent: Document[] = [];
    client.on("commandStarted", (event) => {
      if (event.commandName === "update") sent.push(event.command);
    });
    try {
      const key = "long";
      const items = Array.from(
        { length: 500 },
        (_, i) => `identity-${String(i)}-${"x".repeat(40)}`,
      );
      const store = createMongoStateStore<ContractState, ContractEvent>({
        db: client.db(mongo.db.databaseName),
        collection: "long",
        rememberKeys: 10,
        toDocument: ({ items: list, payload }) => ({ items: list, payload }),
        fromDocument: (doc, k) => ({ key: k, items: doc["items"] as string[], payload: null }),
      });
      const first = { key, items, payload: null };
      await store.saveMany([{ key, state: first, outbox: [], expectedVersion: 0 }]);
      const next = { ...first, items: [...items.slice(1), "newest"] };
      await store.saveMany([{ key, state: next, outbox: [], expectedVersion: 1 }]);
      const doc = await mongo.db.collection<StateDocument>("long").findOne({ _id: key });
      expect(doc?.["items"]).toEqual(next.items);
      expect(sent).toHaveLength(1);
      const text = JSON.stringify(sent[0]);
      expect(text).toContain("newest");
      expect(text).not.toContain("identity-1-");
      expect(text.length).toBeLessThan(1_000);
    } finally {
      await client.close();
    }
  });
});
