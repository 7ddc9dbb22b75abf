import { createEvent } from "@parley/contracts";
import {
  createMongo,
  createMongoStateStore,
  type MongoConnection,
  type StateDocument,
} from "@parley/mongo";
import {
  describeStateStore,
  startStack,
  type ContractEvent,
  type ContractState,
  type Stack,
} from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialState, type OutboundState } from "../../outbound/evolve.js";
import type { OutboundStore } from "../../outbound/handler.js";
import { createOutboundStore, OUTBOUND_COLLECTION } from "./outbound-store.js";

// The outbound contact store on the real MongoDB-wire server: the runtime's StateStore contract
// in the router's collection, then the router's configured store: one winner per contact among
// two instances writing many contacts at once, outboxes marked per version, and the
// collection's layout kept as it was (a request that claims no key is stored with key null).

let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("router-outbound-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

describeStateStore(`MongoDB in ${OUTBOUND_COLLECTION}`, () =>
  createMongoStateStore<ContractState, ContractEvent>({
    db: mongo.db,
    collection: OUTBOUND_COLLECTION,
    toDocument: ({ items, payload }) => ({ items: [...items], payload }),
    fromDocument: (doc, key) => ({ key, items: doc["items"] as string[], payload: doc["payload"] }),
  }),
);

let n = 0;
const fresh = () => `1650556${String(++n).padStart(4, "0")}`;
const rejected = (contactId: string, requestId: string) =>
  createEvent(
    "SendRejected",
    { requestId, idempotencyKey: requestId, contactId, reason: "opted_out", detail: "test" },
    { correlationId: requestId, now: new Date("2026-11-22T10:00:00.000Z") },
  );
const load = async (store: OutboundStore, id: string) => {
  const found = (await store.loadMany([id])).get(id);
  if (found instanceof Error) throw found;
  return found;
};

// Both ways of saving: whole documents, and (remembered contacts, as main.ts composes it) what
// each decision changed.
describe.each([0, 100])(
  "the router's outbound store (createOutboundStore, rememberKeys %i)",
  (rememberKeys) => {
    it("keeps the compare-and-set per contact when many writes share one round trip", async () => {
      // Two instances (two stores) racing on the same contacts at once, each in one bulk write.
      const a = createOutboundStore({ db: mongo.db, rememberKeys });
      const b = createOutboundStore({ db: mongo.db, rememberKeys });
      const ids = Array.from({ length: 50 }, fresh);
      const [lostA, lostB] = await Promise.all([
        a.saveMany(
          ids.map((id) => ({
            key: id,
            state: initialState(id),
            outbox: [rejected(id, `a-${id}`)],
            expectedVersion: 0,
          })),
        ),
        b.saveMany(
          ids.map((id) => ({
            key: id,
            state: initialState(id),
            outbox: [rejected(id, `b-${id}`)],
            expectedVersion: 0,
          })),
        ),
      ]);
      // Exactly one of the two first writes per contact won.
      for (const id of ids)
        expect([lostA.has(id), lostB.has(id)].filter((x) => !x)).toHaveLength(1);
      const empty = (id: string, expectedVersion: number) => ({
        key: id,
        state: initialState(id),
        outbox: [],
        expectedVersion,
      });
      const [againA, againB, ahead] = await Promise.all([
        a.saveMany(ids.map((id) => empty(id, 1))),
        b.saveMany(ids.map((id) => empty(id, 1))),
        a.saveMany(ids.map((id) => empty(id, 7))),
      ]);
      for (const id of ids) {
        expect([againA.has(id), againB.has(id)].filter((x) => !x)).toHaveLength(1);
        expect(ahead.has(id)).toBe(true);
      }
      const loaded = await a.loadMany(ids);
      for (const id of ids) {
        const doc = loaded.get(id);
        if (doc instanceof Error) throw doc;
        expect(doc?.version).toBe(2);
        expect(doc?.outbox).toEqual([]);
      }
    });

    it("loads many contacts at once, each its own, and shows an outbox until its version is marked published", async () => {
      const store = createOutboundStore({ db: mongo.db, rememberKeys });
      const ids = Array.from({ length: 20 }, fresh);
      await store.saveMany(
        ids.map((id) => ({
          key: id,
          state: initialState(id),
          outbox: [rejected(id, `r-${id}`)],
          expectedVersion: 0,
        })),
      );
      const unknown = fresh();
      const loaded = await store.loadMany([...ids, unknown]);
      for (const id of ids) {
        const doc = loaded.get(id);
        if (doc instanceof Error) throw doc;
        expect(doc?.state.contactId).toBe(id);
        expect(doc?.outbox.map((e) => e.correlationId)).toEqual([`r-${id}`]);
      }
      expect(loaded.has(unknown)).toBe(false);
      const [x = "", y = ""] = ids;
      // y is written again before the mark of its first write arrives: its new outbox stays.
      expect(
        await store.saveMany([
          { key: y, state: initialState(y), outbox: [rejected(y, `s-${y}`)], expectedVersion: 1 },
        ]),
      ).toEqual(new Set());
      await store.markPublished([
        { key: x, version: 1 },
        { key: y, version: 1 },
      ]);
      expect((await load(store, x))?.outbox).toEqual([]);
      expect((await load(store, y))?.outbox.map((e) => e.correlationId)).toEqual([`s-${y}`]);
      await store.markPublished([{ key: y, version: 2 }]);
      expect((await load(store, y))?.outbox).toEqual([]);
      // A late mark of the older version does not bring anything back; a new write brings its own.
      await store.markPublished([{ key: y, version: 1 }]);
      expect((await load(store, y))?.outbox).toEqual([]);
      await store.saveMany([
        { key: y, state: initialState(y), outbox: [rejected(y, `t-${y}`)], expectedVersion: 2 },
      ]);
      expect((await load(store, y))?.outbox.map((e) => e.correlationId)).toEqual([`t-${y}`]);
    });

    it("reads a document written before the runtime as it is, and writes the same layout", async () => {
      const store = createOutboundStore({ db: mongo.db, rememberKeys });
      const id = fresh();
      const decided = {
        requestId: "req-old",
        key: null,
        contentHash: "h",
        decidedAt: "2026-11-22T10:00:00.000Z",
        outcome: "deduplicated",
      };
      const consent = {
        scope: "all",
        granted: false,
        eventId: "e-1",
        occurredAt: "2026-11-22T09:00:00.000Z",
        source: "keyword",
      };
      // As the hand-written outbound store wrote it (its outbox marked published).
      await mongo.db.collection<Record<string, unknown>>(OUTBOUND_COLLECTION).insertOne({
        _id: id as never,
        version: 2,
        writeId: "old",
        consent: [consent],
        windows: [],
        marketingSends: ["2026-11-22T08:00:00.000Z"],
        requests: [decided],
        outbox: [JSON.parse(JSON.stringify(rejected(id, "req-old"))) as unknown],
        publishedVersion: 2,
        updatedAt: new Date(),
      });
      const expected: OutboundState = {
        contactId: id,
        consent: [{ ...consent, scope: "all" }],
        windows: [],
        marketingSends: ["2026-11-22T08:00:00.000Z"],
        requests: [{ ...decided, key: undefined, outcome: "deduplicated" }],
      };
      expect(await load(store, id)).toEqual({ state: expected, version: 2, outbox: [] });
      await store.saveMany([{ key: id, state: expected, outbox: [], expectedVersion: 2 }]);
      const doc = await mongo.db
        .collection<StateDocument>(OUTBOUND_COLLECTION)
        .findOne({ _id: id });
      expect(doc).toMatchObject({
        version: 3,
        consent: [consent],
        windows: [],
        marketingSends: ["2026-11-22T08:00:00.000Z"],
        requests: [decided],
        outbox: [],
      });
    });
  },
);
