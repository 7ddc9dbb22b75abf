import { createEvent } from "@parley/contracts";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialState } from "../../outbound/evolve.js";
import { createMongoOutboundStore } from "./outbound-store.js";

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

let n = 0;
const fresh = () => `1650556${String(++n).padStart(4, "0")}`;
const rejected = (contactId: string, requestId: string) =>
  createEvent(
    "SendRejected",
    { requestId, idempotencyKey: requestId, contactId, reason: "opted_out", detail: "test" },
    { correlationId: requestId, now: new Date("2026-11-22T10:00:00.000Z") },
  );

describe("MongoDB outbound store, batched", () => {
  it("keeps the compare-and-set per contact when many writes share one round trip", async () => {
    // Two instances (two stores, two batchers) racing on the same contacts at once.
    const a = createMongoOutboundStore({ db: mongo.db });
    const b = createMongoOutboundStore({ db: mongo.db });
    const ids = Array.from({ length: 50 }, fresh);
    const first = await Promise.all(
      ids.flatMap((id) => [
        a.save(id, { state: initialState(id), outbox: [rejected(id, `a-${id}`)] }, 0),
        b.save(id, { state: initialState(id), outbox: [rejected(id, `b-${id}`)] }, 0),
      ]),
    );
    // Exactly one of the two first writes per contact won.
    for (let i = 0; i < ids.length; i++) {
      expect([first[2 * i], first[2 * i + 1]].filter(Boolean)).toHaveLength(1);
    }
    const second = await Promise.all(
      ids.flatMap((id) => [
        a.save(id, { state: initialState(id), outbox: [] }, 1),
        b.save(id, { state: initialState(id), outbox: [] }, 1),
        a.save(id, { state: initialState(id), outbox: [] }, 7),
      ]),
    );
    for (let i = 0; i < ids.length; i++) {
      expect([second[3 * i], second[3 * i + 1]].filter(Boolean)).toHaveLength(1);
      expect(second[3 * i + 2]).toBe(false);
    }
    const loaded = await Promise.all(ids.map((id) => a.load(id)));
    for (const doc of loaded) {
      expect(doc?.version).toBe(2);
      expect(doc?.outbox).toEqual([]);
    }
  });

  it("loads many contacts at once, each its own, and clears an outbox only at its version", async () => {
    const store = createMongoOutboundStore({ db: mongo.db });
    const ids = Array.from({ length: 20 }, fresh);
    await Promise.all(
      ids.map((id) =>
        store.save(id, { state: initialState(id), outbox: [rejected(id, `r-${id}`)] }, 0),
      ),
    );
    const unknown = fresh();
    const loaded = await Promise.all([...ids, unknown].map((id) => store.load(id)));
    ids.forEach((id, i) => {
      expect(loaded[i]?.state.contactId).toBe(id);
      expect(loaded[i]?.outbox.map((e) => e.correlationId)).toEqual([`r-${id}`]);
    });
    expect(loaded[ids.length]).toBeUndefined();
    const [x = "", y = ""] = ids;
    // y is written again before the clear of its first write arrives: its new outbox stays.
    expect(
      await store.save(y, { state: initialState(y), outbox: [rejected(y, `s-${y}`)] }, 1),
    ).toBe(true);
    await Promise.all([store.clearOutbox(x, 1), store.clearOutbox(y, 1)]);
    expect((await store.load(x))?.outbox).toEqual([]);
    expect((await store.load(y))?.outbox.map((e) => e.correlationId)).toEqual([`s-${y}`]);
    await store.clearOutbox(y, 2);
    expect((await store.load(y))?.outbox).toEqual([]);
    // A late clear of the older version does not bring anything back; a new write brings its own.
    await store.clearOutbox(y, 1);
    expect((await store.load(y))?.outbox).toEqual([]);
    expect(
      await store.save(y, { state: initialState(y), outbox: [rejected(y, `t-${y}`)] }, 2),
    ).toBe(true);
    expect((await store.load(y))?.outbox.map((e) => e.correlationId)).toEqual([`t-${y}`]);
  });
});
