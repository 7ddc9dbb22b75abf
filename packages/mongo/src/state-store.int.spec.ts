import { createCommandHandler, UnstorableStateError, type Decider } from "@parley/decider";
import { retryOf } from "@parley/errors";
import {
  describeStateStore,
  startStack,
  type ContractEvent,
  type ContractState,
  type Stack,
} from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongo, type MongoConnection } from "./connection.js";
import { StoreError } from "./errors.js";
import { createMongoStateStore, type StateDocument } from "./state-store.js";

// The MongoDB StateStore against the real MongoDB-wire server (its own database per run): the
// shared contract suite, then what only a real server shows.
let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("state-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const contractStore = (collection = "contract_states") =>
  createMongoStateStore<ContractState, ContractEvent>({
    db: mongo.db,
    collection,
    toDocument: ({ items, payload }) => ({ items: [...items], payload }),
    fromDocument: (doc, key) => ({
      key,
      items: doc["items"] as string[],
      payload: doc["payload"],
    }),
  });

describeStateStore("MongoDB", () => contractStore());

describe("MongoDB StateStore: what only the server shows", () => {
  it("keeps the state's fields at the top of the key's document, beside its own", async () => {
    const store = contractStore("layout");
    await store.saveMany([
      {
        key: "k1",
        state: { key: "k1", items: ["a"], payload: { n: 1 } },
        outbox: [{ id: "e1", type: "Happened", data: {} }],
        expectedVersion: 0,
      },
    ]);
    await store.markPublished([{ key: "k1", version: 1 }]);
    const doc = await mongo.db.collection<StateDocument>("layout").findOne({ _id: "k1" });
    expect(doc).toMatchObject({
      _id: "k1",
      version: 1,
      publishedVersion: 1,
      items: ["a"],
      payload: { n: 1 },
      outbox: [{ id: "e1", type: "Happened", data: {} }],
    });
    expect(typeof doc?.writeId).toBe("string");
    expect(doc?.updatedAt).toBeInstanceOf(Date);
  });

  it("a document that cannot be read back fails its own key only, as an Error in the map", async () => {
    const store = createMongoStateStore<ContractState, ContractEvent>({
      db: mongo.db,
      collection: "unreadable",
      toDocument: ({ items, payload }) => ({ items: [...items], payload }),
      fromDocument: (doc, key) => ({ key, items: doc["items"] as string[], payload: null }),
      outboxFromDocument: (stored) => {
        if (typeof (stored as { id?: unknown }).id !== "string") throw new TypeError("no id");
        return stored as ContractEvent;
      },
    });
    await store.saveMany([
      {
        key: "good",
        state: { key: "good", items: [], payload: null },
        outbox: [],
        expectedVersion: 0,
      },
    ]);
    await mongo.db.collection<StateDocument>("unreadable").insertOne({
      _id: "bad",
      version: 1,
      writeId: "w",
      outbox: [{ nope: 1 }],
      updatedAt: new Date(),
      items: [],
    });
    const found = await store.loadMany(["good", "bad"]);
    expect(found.get("good")).toMatchObject({ version: 1 });
    const bad = found.get("bad");
    expect(bad).toBeInstanceOf(Error);
    expect(retryOf(bad)).toBe("never");
  });

  it("a document the server or driver refuses fails with a never error; a field the store owns is refused", async () => {
    const store = contractStore("unbuildable");
    // Past MongoDB's 16 MiB document limit.
    const failure = await store
      .saveMany([
        {
          key: "huge",
          state: { key: "huge", items: [], payload: "x".repeat(17 * 1024 * 1024) },
          outbox: [],
          expectedVersion: 0,
        },
      ])
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(StoreError);
    expect(retryOf(failure)).toBe("never");
    expect((await store.loadMany(["huge"])).size).toBe(0);
    const owned = createMongoStateStore<ContractState, ContractEvent>({
      db: mongo.db,
      collection: "unbuildable",
      toDocument: ({ items }) => ({ items, version: 7 }),
      fromDocument: (_doc, key) => ({ key, items: [], payload: null }),
    });
    await expect(
      owned.saveMany([
        { key: "k", state: { key: "k", items: [], payload: null }, outbox: [], expectedVersion: 0 },
      ]),
    ).rejects.toThrow(/toDocument returned "version"/);
  });

  it("under the command handler, a poison key fails alone and the rest of its batch is stored and published", async () => {
    interface Put {
      readonly id: string;
      readonly value: unknown;
    }
    type Stored = ContractEvent & { readonly key: string };
    const decider: Decider<ContractState, Put, Stored> = {
      initialState: (key) => ({ key, items: [], payload: null }),
      decide: (put, state) =>
        state.items.includes(put.id)
          ? []
          : [{ id: `${state.key}:${put.id}`, key: state.key, type: "Put", data: put.value }],
      evolve: (state, event) => ({
        ...state,
        items: [...state.items, event.id.split(":")[1] ?? ""],
      }),
    };
    const published: Stored[] = [];
    const handler = createCommandHandler({
      decider,
      store: createMongoStateStore<ContractState, Stored>({
        db: mongo.db,
        collection: "handled",
        toDocument: ({ items, payload }) => ({ items: [...items], payload }),
        fromDocument: (doc, key) => ({ key, items: doc["items"] as string[], payload: null }),
      }),
      publish: (events) => {
        published.push(...events);
        return Promise.resolve();
      },
      context: (commands) => commands.map(() => undefined),
    });
    let deep: unknown = "bottom";
    for (let i = 0; i < 5_000; i++) deep = [deep];
    const outcomes = await Promise.allSettled(
      ["a", "poison", "b"].map((key) =>
        handler.handle([{ key, command: { id: "1", value: key === "poison" ? deep : key } }]),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const [, poison] = outcomes;
    expect(poison?.status === "rejected" && poison.reason).toBeInstanceOf(UnstorableStateError);
    expect(published.map((e) => e.id).sort()).toEqual(["a:1", "b:1"]);
    const docs = await mongo.db
      .collection<StateDocument>("handled")
      .find({}, { projection: { _id: 1, version: 1, publishedVersion: 1 } })
      .toArray();
    expect(docs.sort((x, y) => x._id.localeCompare(y._id))).toEqual([
      { _id: "a", version: 1, publishedVersion: 1 },
      { _id: "b", version: 1, publishedVersion: 1 },
    ]);
  });

  it("deferred marks: an owner revoked or killed before writing them makes the next one publish those outboxes again (same ids); one that flushes on stopping leaves nothing to publish again", async () => {
    interface Put {
      readonly id: string;
    }
    type Stored = ContractEvent & { readonly key: string };
    const decider: Decider<ContractState, Put, Stored> = {
      initialState: (key) => ({ key, items: [], payload: null }),
      decide: (put, state) =>
        state.items.includes(put.id)
          ? []
          : [{ id: `${state.key}:${put.id}`, key: state.key, type: "Put", data: put.id }],
      evolve: (state, event) => ({
        ...state,
        items: [...state.items, event.id.split(":")[1] ?? ""],
      }),
    };
    const owner = (markDelayMs: number | undefined) => {
      const published: string[] = [];
      const handler = createCommandHandler({
        decider,
        store: createMongoStateStore<ContractState, Stored>({
          db: mongo.db,
          collection: "deferred_marks",
          toDocument: ({ items }) => ({ items: [...items] }),
          fromDocument: (doc, key) => ({ key, items: doc["items"] as string[], payload: null }),
        }),
        publish: (events) => {
          published.push(...events.map((e) => e.id));
          return Promise.resolve();
        },
        context: (commands) => commands.map(() => undefined),
        ...(markDelayMs === undefined ? {} : { markDelayMs }),
      });
      return { handler, published };
    };
    const put = (key: string, id: string) => [{ key, command: { id } }];
    const documents = mongo.db.collection<StateDocument>("deferred_marks");

    // First owner: two inputs, answered once published; its marks wait (an hour), then it dies.
    const first = owner(3_600_000);
    await first.handler.handle([...put("a", "1"), ...put("b", "1")]);
    expect(first.published.sort()).toEqual(["a:1", "b:1"]);
    expect(await documents.findOne({ _id: "a" })).toMatchObject({ version: 1 });
    expect((await documents.findOne({ _id: "a" }))?.publishedVersion).toBeUndefined();

    // The next owner gets b's uncommitted input again and new input for a: both outboxes go out
    // again with the same ids, before a's new event; b's input decides nothing new.
    const second = owner(3_600_000);
    await second.handler.handle([...put("a", "2"), ...put("b", "1")]);
    expect(second.published.sort()).toEqual(["a:1", "a:2", "b:1"]);
    expect(second.published.indexOf("a:1")).toBeLessThan(second.published.indexOf("a:2"));

    // It stops gracefully: the marks are written, and a third owner publishes nothing again.
    await second.handler.flush();
    expect(await documents.findOne({ _id: "a" })).toMatchObject({
      version: 2,
      publishedVersion: 2,
    });
    const third = owner(undefined);
    await third.handler.handle([...put("a", "2"), ...put("b", "1"), ...put("b", "2")]);
    expect(third.published).toEqual(["b:2"]);
  });
});
