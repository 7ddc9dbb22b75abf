import { createEvent, type AnyEvent } from "@parley/contracts";
import type { StateStore } from "@parley/decider";
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
import { evolve, initialState, type ContactState, type RouterEvent } from "../../inbound/decide.js";
import { CONTACTS_COLLECTION, createContactStore } from "./contact-store.js";

// The inbound contact store on the real MongoDB-wire server: the runtime's StateStore contract
// in the router's collection, the contact store's own contract (versions, outbox, many contacts
// per call) through the router's configured store, and the collection's layout kept as it was,
// so documents written before the runtime read as they are.

let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("router-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

describeStateStore(`MongoDB in ${CONTACTS_COLLECTION}`, () =>
  createMongoStateStore<ContractState, ContractEvent>({
    db: mongo.db,
    collection: CONTACTS_COLLECTION,
    toDocument: ({ items, payload }) => ({ items: [...items], payload }),
    fromDocument: (doc, key) => ({ key, items: doc["items"] as string[], payload: doc["payload"] }),
  }),
);

const now = new Date("2026-03-01T10:00:00.000Z");
const inbound = (contactId: string, wamid: string) =>
  createEvent(
    "InboundMessageReceived",
    {
      contactId,
      wamid,
      contact: { waId: contactId },
      origin: { deliveryId: "d", wabaId: "w" },
      message: { type: "text", text: { body: "hi" } },
    },
    { correlationId: "d", businessNumber: "1", now },
  );
type Store = StateStore<ContactState, RouterEvent>;
const load = async (store: Store, id: string) => {
  const found = (await store.loadMany([id])).get(id);
  if (found instanceof Error) throw found;
  return found;
};
const save = async (
  store: Store,
  key: string,
  { state, outbox }: { state: ContactState; outbox: readonly RouterEvent[] },
  expectedVersion: number,
) => !(await store.saveMany([{ key, state, outbox, expectedVersion }])).has(key);
let n = 0;
const fresh = () => `1650555${String(++n).padStart(4, "0")}-${Math.random().toString(36).slice(2)}`;

// Both ways of saving: whole documents, and (remembered contacts, as main.ts composes it) what
// each decision changed.
describe.each([0, 100])(
  "the router's contact store (createContactStore, rememberKeys %i)",
  (rememberKeys) => {
    const store = () => createContactStore({ db: mongo.db, rememberKeys });

    it("loads nothing for an unknown contact", async () => {
      expect(await load(store(), fresh())).toBeUndefined();
    });

    it("saves version 1 from 0, and keeps state and outbox as given", async () => {
      const contacts = store();
      const id = fresh();
      const event = inbound(id, "w.1");
      const state = evolve(initialState(id), event);
      expect(await save(contacts, id, { state, outbox: [event] }, 0)).toBe(true);
      const loaded = await load(contacts, id);
      expect(loaded?.version).toBe(1);
      expect(loaded?.state).toEqual(state);
      expect(loaded?.outbox).toEqual([event]);
    });

    it("refuses a second first write and a write with a stale version", async () => {
      const contacts = store();
      const id = fresh();
      const state = initialState(id);
      expect(await save(contacts, id, { state, outbox: [] }, 0)).toBe(true);
      expect(await save(contacts, id, { state, outbox: [] }, 0)).toBe(false);
      expect(await save(contacts, id, { state, outbox: [] }, 1)).toBe(true);
      expect(await save(contacts, id, { state, outbox: [] }, 1)).toBe(false);
      expect((await load(contacts, id))?.version).toBe(2);
    });

    it("shows an outbox only until the version it was written with is marked published", async () => {
      const contacts = store();
      const id = fresh();
      const [first, second] = [inbound(id, "w.1"), inbound(id, "w.2")];
      await save(contacts, id, { state: initialState(id), outbox: [first] }, 0);
      await save(contacts, id, { state: initialState(id), outbox: [second] }, 1);
      // The first writer's mark arrives after a second write: the second outbox stays.
      await contacts.markPublished([{ key: id, version: 1 }]);
      expect((await load(contacts, id))?.outbox).toEqual([second]);
      await contacts.markPublished([{ key: id, version: 2 }]);
      expect((await load(contacts, id))?.outbox).toEqual([]);
      expect((await load(contacts, id))?.version).toBe(2);
      // A late mark of an older version does not bring the outbox back, and a new write brings
      // its own.
      await contacts.markPublished([{ key: id, version: 1 }]);
      expect((await load(contacts, id))?.outbox).toEqual([]);
      await save(contacts, id, { state: initialState(id), outbox: [first] }, 2);
      expect((await load(contacts, id))?.outbox).toEqual([first]);
    });

    it("takes many contacts per call: loads those that exist, and refuses only the stale writes", async () => {
      const contacts = store();
      const [a, b, c, d] = [fresh(), fresh(), fresh(), fresh()];
      const [ea, ec] = [inbound(a, "w.a"), inbound(c, "w.c")];
      await save(contacts, a, { state: initialState(a), outbox: [] }, 0);
      await save(contacts, b, { state: initialState(b), outbox: [] }, 0);
      const found = await contacts.loadMany([a, b, c]);
      expect([...found.keys()].sort()).toEqual([a, b].sort());
      const lost = await contacts.saveMany([
        { key: a, state: initialState(a), outbox: [ea], expectedVersion: 1 },
        { key: b, state: initialState(b), outbox: [], expectedVersion: 0 },
        { key: c, state: initialState(c), outbox: [ec], expectedVersion: 0 },
        { key: d, state: initialState(d), outbox: [], expectedVersion: 3 },
      ]);
      expect([...lost].sort()).toEqual([b, d].sort());
      expect((await load(contacts, a))?.version).toBe(2);
      expect((await load(contacts, b))?.version).toBe(1);
      expect((await load(contacts, c))?.outbox).toEqual([ec]);
      await contacts.markPublished([
        { key: a, version: 2 },
        { key: c, version: 1 },
      ]);
      expect((await load(contacts, a))?.outbox).toEqual([]);
      expect((await load(contacts, c))?.outbox).toEqual([]);
      expect(await contacts.loadMany([])).toEqual(new Map());
    });

    it("reads a document written before the runtime as it is, and writes the same layout", async () => {
      const contacts = store();
      const id = fresh();
      const pending = inbound(id, "w.old");
      const seen = { id: "inbound:w.old", at: now.toISOString() };
      const window = {
        businessNumber: "106540352242922",
        expiresAt: "2026-03-02T10:00:00.000Z",
        lastMessage: "w.old",
      };
      // As the hand-written contact store wrote it (an outbox not yet cleared).
      await mongo.db.collection<Record<string, unknown>>(CONTACTS_COLLECTION).insertOne({
        _id: id as never,
        version: 3,
        messages: [seen],
        statuses: [],
        others: [],
        windows: [window],
        outbox: [JSON.parse(JSON.stringify(pending)) as AnyEvent],
        updatedAt: now,
        writeId: "old-bulk-write",
        publishedVersion: 2,
      });
      expect(await load(contacts, id)).toEqual({
        state: { contactId: id, messages: [seen], statuses: [], others: [], windows: [window] },
        version: 3,
        outbox: [pending],
      });
      const next = evolve(initialState(id), inbound(id, "w.new"));
      expect(await save(contacts, id, { state: next, outbox: [] }, 3)).toBe(true);
      const doc = await mongo.db
        .collection<StateDocument>(CONTACTS_COLLECTION)
        .findOne({ _id: id });
      expect(Object.keys(doc ?? {}).sort()).toEqual(
        [
          "_id",
          "version",
          "messages",
          "statuses",
          "others",
          "windows",
          "outbox",
          "updatedAt",
          "writeId",
        ].sort(),
      );
      expect(doc).toMatchObject({ version: 4, messages: next.messages, outbox: [] });
    });

    it("an outbox that is not the inbound side's own events fails its contact only", async () => {
      const contacts = store();
      const [good, bad] = [fresh(), fresh()];
      await save(contacts, good, { state: initialState(good), outbox: [] }, 0);
      await mongo.db.collection<Record<string, unknown>>(CONTACTS_COLLECTION).insertOne({
        _id: bad as never,
        version: 1,
        messages: [],
        statuses: [],
        others: [],
        windows: [],
        outbox: [{ type: "InboundMessageReceived", data: "not an event" }],
        updatedAt: now,
        writeId: "w",
      });
      const found = await contacts.loadMany([good, bad]);
      expect(found.get(good)).toMatchObject({ version: 1 });
      expect(found.get(bad)).toBeInstanceOf(Error);
      expect(found.get(bad)).toMatchObject({ retry: "never" });
    });
  },
);
