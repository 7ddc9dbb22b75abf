import type { EventOf } from "@parley/contracts";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongoParkStore } from "./park-store.js";
import type { ParkedDispatch } from "../../sending/ports.js";

// The park store against the real MongoDB-wire server: parks and removes made at once share a
// round trip, and a redelivered record still parks once.
let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("park-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const parked = (requestId: string, offset: number, number = "106540352242951"): ParkedDispatch => ({
  requestId,
  number,
  partition: 0,
  offset,
  recipient: `1555000${String(offset % 3)}`,
  // The store keeps the dispatch as it is; its shape is the contracts' business.
  dispatch: { id: `evt-${requestId}` } as unknown as EventOf<"DispatchMessage">,
  parkedAt: new Date(0),
});

describe("MongoDB park store", () => {
  it("parks a batch at once, each record once, and reads them back in record order", async () => {
    const store = createMongoParkStore(mongo.db, "parked_batch");
    await store.ensureIndexes();
    const first = await Promise.all(
      [5, 3, 9, 3].map((offset) => store.park(parked(`r${String(offset)}`, offset))),
    );
    // The same request twice in one batch parks once: one of the two says it was new.
    expect(first.filter(Boolean)).toHaveLength(3);
    expect([first[0], first[2]]).toEqual([true, true]);
    expect(await store.park(parked("r5", 5))).toBe(false);
    expect(await store.park(parked("r7", 7, "106540352240005"))).toBe(true);
    expect(await store.count("106540352242951")).toBe(3);
    const page = await store.next("106540352242951", -1, 10);
    expect(page.map((p) => [p.requestId, p.offset])).toEqual([
      ["r3", 3],
      ["r5", 5],
      ["r9", 9],
    ]);
    expect(page[0]?.dispatch).toEqual({ id: "evt-r3" });
    expect((await store.next("106540352242951", 3, 1)).map((p) => p.requestId)).toEqual(["r5"]);
    expect(await store.backlog()).toEqual(
      expect.arrayContaining([
        { number: "106540352242951", partitions: [0] },
        { number: "106540352240005", partitions: [0] },
      ]),
    );
  });

  it("removes a batch at once, a repeated id included", async () => {
    const store = createMongoParkStore(mongo.db, "parked_remove");
    await store.ensureIndexes();
    await Promise.all([1, 2, 3].map((o) => store.park(parked(`x${String(o)}`, o))));
    await Promise.all([store.remove("x1"), store.remove("x3"), store.remove("x1")]);
    expect((await store.next("106540352242951", -1, 10)).map((p) => p.requestId)).toEqual(["x2"]);
    await store.remove("x2");
    expect(await store.count("106540352242951")).toBe(0);
    expect(await store.backlog()).toEqual([]);
  });
});
