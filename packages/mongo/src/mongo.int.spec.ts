import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@parley/testkit";
import { MongoServerError, type Collection } from "mongodb";
import { createMongo, type MongoConnection } from "./connection.js";

// The capabilities Parley's read models rely on, run against whichever MongoDB-wire server
// the stack provides (mongo-java-server here, real MongoDB under Docker). See ADR 0001.
interface MessageDoc {
  _id: string;
  contact: string;
  business: string;
  status: string;
  statusRank: number;
  attempts: number;
  cost: number;
  createdAt: Date;
  updatedAt?: Date;
}

let stack: Stack;
let mongo: MongoConnection;
let messages: Collection<MessageDoc>;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("mongo-int");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  console.log(
    `[servers] MongoDB wire server reports version ${await mongo.serverVersion()} (${process.env["PARLEY_MONGO_SERVER"] ?? stack.source})`,
  );
  messages = mongo.db.collection<MessageDoc>("messages");
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

describe("MongoDB capabilities used by the read models", () => {
  it("upserts with $set, $setOnInsert, $inc and $max", async () => {
    const createdAt = new Date("2026-01-01T00:00:00Z");
    for (const [, rank] of [
      ["sent", 1],
      ["read", 3],
      ["delivered", 2],
    ] as const) {
      await messages.updateOne(
        { _id: "wamid.1" },
        {
          $setOnInsert: { contact: "c1", business: "b1", createdAt, cost: 0, status: "sent" },
          $max: { statusRank: rank },
          $inc: { attempts: 1 },
          $set: { updatedAt: new Date(createdAt.getTime() + rank * 1000) },
        },
        { upsert: true },
      );
    }
    const doc = await messages.findOne({ _id: "wamid.1" });
    expect(doc).toMatchObject({ contact: "c1", attempts: 3, statusRank: 3, createdAt });
  });

  it("findOneAndUpdate returns the document after the update", async () => {
    const after = await messages.findOneAndUpdate(
      { _id: "wamid.1" },
      { $set: { status: "read" }, $inc: { cost: 5 } },
      { returnDocument: "after" },
    );
    expect(after).toMatchObject({ _id: "wamid.1", status: "read", cost: 5 });
  });

  it("bulkWrite mixes upserts, updates and deletes", async () => {
    const createdAt = new Date();
    const result = await messages.bulkWrite(
      [
        {
          updateOne: {
            filter: { _id: "wamid.2" },
            update: {
              $setOnInsert: {
                contact: "c1",
                business: "b1",
                status: "sent",
                statusRank: 1,
                attempts: 1,
                cost: 2,
                createdAt,
              },
            },
            upsert: true,
          },
        },
        {
          updateOne: {
            filter: { _id: "wamid.3" },
            update: {
              $setOnInsert: {
                contact: "c2",
                business: "b1",
                status: "failed",
                statusRank: 9,
                attempts: 1,
                cost: 0,
                createdAt,
              },
            },
            upsert: true,
          },
        },
        {
          insertOne: {
            document: {
              _id: "wamid.4",
              contact: "c2",
              business: "b2",
              status: "sent",
              statusRank: 1,
              attempts: 1,
              cost: 9,
              createdAt,
            },
          },
        },
        { updateOne: { filter: { _id: "wamid.2" }, update: { $inc: { attempts: 1 } } } },
        { deleteOne: { filter: { _id: "missing" } } },
      ],
      { ordered: false },
    );
    expect(result.upsertedCount).toBe(2);
    expect(result.insertedCount).toBe(1);
    expect(result.modifiedCount).toBe(1);
    expect(await messages.countDocuments()).toBe(4);
  });

  it("enforces unique indexes and serves compound ones", async () => {
    const keys = mongo.db.collection<{
      key: string;
      business: string;
      contact: string;
      at: number;
    }>("idempotency");
    await keys.createIndex({ key: 1 }, { unique: true, name: "key_unique" });
    await messages.createIndex(
      { business: 1, contact: 1, createdAt: -1 },
      { name: "by_business_contact" },
    );
    await keys.insertOne({ key: "req-1", business: "b1", contact: "c1", at: 1 });
    const duplicate = await keys
      .insertOne({ key: "req-1", business: "b1", contact: "c1", at: 2 })
      .catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(MongoServerError);
    expect((duplicate as MongoServerError).code).toBe(11000);
    const names = (await messages.indexes()).map((i) => i.name);
    expect(names).toContain("by_business_contact");
    expect(
      await messages.find({ business: "b1", contact: "c1" }).sort({ createdAt: -1 }).toArray(),
    ).toHaveLength(2);
  });

  it("compare-and-set by {_id, version} updates only the current version, and _id-narrowed filters match like a scan", async () => {
    // The routers' and sender's state saves are conditional updates on `_id` plus a version or
    // state; the stand-in narrows such filters by the _id index (infra/native/mongo), which must
    // not change which documents match.
    const state = mongo.db.collection<{ _id: string; version: number; lane: string }>("cas");
    await state.insertMany(
      Array.from({ length: 50 }, (_, i) => ({ _id: `k${i}`, version: 1, lane: i % 2 ? "a" : "b" })),
    );
    const first = await state.bulkWrite(
      ["k1", "k2", "k3"].map((id) => ({
        updateOne: { filter: { _id: id, version: 1 }, update: { $set: { version: 2 } } },
      })),
      { ordered: false },
    );
    expect(first.matchedCount).toBe(3);
    const stale = await state.updateOne({ _id: "k1", version: 1 }, { $set: { version: 9 } });
    expect(stale.matchedCount).toBe(0);
    expect(await state.findOne({ _id: "k1" })).toMatchObject({ version: 2 });
    const narrowed = await state
      .find({ _id: { $in: ["k1", "k2", "k3", "k4", "missing"] }, lane: "a", version: { $gte: 1 } })
      .sort({ _id: 1 })
      .toArray();
    expect(narrowed.map((d) => d._id)).toEqual(["k1", "k3"]);
    const removed = await state.deleteMany({ _id: { $in: ["k2", "k4"] }, version: 2 });
    expect(removed.deletedCount).toBe(1);
    expect(await state.countDocuments({ _id: "k2" })).toBe(0);
  });

  it("reports matched, modified and upserted as MongoDB does, and applies positional and multi updates", async () => {
    // The stand-in runs its own loop over the matched documents (infra/native/mongo,
    // LeanUpdates): what it counts as modified, when it finds a positional element and how it
    // upserts must stay MongoDB's. The sender and consent stores read modifiedCount.
    const docs = mongo.db.collection<{
      _id: string;
      n: number;
      tags?: string[];
      items?: { sku: string; qty: number }[];
      group?: string;
    }>("updates");
    await docs.insertMany([
      {
        _id: "u1",
        n: 1,
        tags: ["a", "b"],
        items: [
          { sku: "x", qty: 1 },
          { sku: "y", qty: 2 },
        ],
      },
      { _id: "u2", n: 2, group: "g" },
      { _id: "u3", n: 3, group: "g" },
    ]);
    // A $set to the value a document holds matches it and modifies nothing.
    expect(await docs.updateOne({ _id: "u1" }, { $set: { n: 1 } })).toMatchObject({
      matchedCount: 1,
      modifiedCount: 0,
      upsertedCount: 0,
    });
    // So does a replacement equal to the document (as the read models' repeated saves are).
    const u2 = await docs.findOne({ _id: "u2" });
    expect(await docs.replaceOne({ _id: "u2" }, { n: 2, group: "g" })).toMatchObject({
      matchedCount: 1,
      modifiedCount: 0,
    });
    expect(await docs.findOne({ _id: "u2" })).toEqual(u2);
    // A replacement that changes it modifies it, and keeps its _id.
    expect(await docs.replaceOne({ _id: "u2" }, { n: 20 })).toMatchObject({ modifiedCount: 1 });
    expect(await docs.findOne({ _id: "u2" })).toEqual({ _id: "u2", n: 20 });
    // The positional $ reaches the array element the filter matched.
    expect(
      await docs.updateOne({ _id: "u1", "items.sku": "y" }, { $inc: { "items.$.qty": 5 } }),
    ).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect((await docs.findOne({ _id: "u1" }))?.items).toEqual([
      { sku: "x", qty: 1 },
      { sku: "y", qty: 7 },
    ]);
    expect(
      await docs.updateOne({ _id: "u1", tags: "b" }, { $set: { "tags.$": "B" } }),
    ).toMatchObject({ modifiedCount: 1 });
    expect((await docs.findOne({ _id: "u1" }))?.tags).toEqual(["a", "B"]);
    // A multi update counts each document it matched and each it changed.
    await docs.updateOne({ _id: "u2" }, { $set: { group: "g", n: 3 } });
    expect(await docs.updateMany({ group: "g" }, { $set: { n: 3 } })).toMatchObject({
      matchedCount: 2,
      modifiedCount: 0,
    });
    expect(await docs.updateMany({ group: "g" }, { $inc: { n: 1 } })).toMatchObject({
      matchedCount: 2,
      modifiedCount: 2,
    });
    // An upsert that matches nothing inserts, with the filter's _id and fields.
    const upserted = await docs.updateOne(
      { _id: "u9", group: "h" },
      { $set: { n: 9 } },
      { upsert: true },
    );
    expect(upserted).toMatchObject({ matchedCount: 0, modifiedCount: 0, upsertedId: "u9" });
    expect(await docs.findOne({ _id: "u9" })).toEqual({ _id: "u9", group: "h", n: 9 });
    // One that matches updates instead.
    expect(
      await docs.updateOne({ _id: "u9" }, { $set: { n: 10 } }, { upsert: true }),
    ).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    // The _id cannot change.
    const moved = await docs
      .updateOne({ _id: "u3" }, { $set: { _id: "other" } })
      .catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(MongoServerError);
    expect(await docs.countDocuments()).toBe(4);
  });

  it("aggregates with $match, $group and $sort", async () => {
    const perBusiness = await messages
      .aggregate<{ _id: string; messages: number; cost: number }>([
        { $match: { status: { $ne: "failed" } } },
        { $group: { _id: "$business", messages: { $sum: 1 }, cost: { $sum: "$cost" } } },
        { $sort: { cost: -1 } },
      ])
      .toArray();
    expect(perBusiness).toEqual([
      { _id: "b2", messages: 1, cost: 9 },
      { _id: "b1", messages: 2, cost: 7 },
    ]);
  });
});

describe("createMongo: the round trips", () => {
  it("tells onCommand the name of every command sent, one per round trip (a bulk write of one kind is one)", async () => {
    const ns = stack.namespace("mongo-commands");
    const commands: string[] = [];
    const counted = createMongo({
      url: stack.mongoUrl,
      database: ns.database(),
      appName: ns.id,
      onCommand: (name) => commands.push(name),
    });
    try {
      const things = counted.db.collection<{ _id: string; n: number }>("things");
      await things.insertOne({ _id: "a", n: 1 });
      await things.bulkWrite(
        ["b", "c", "d"].map((id) => ({
          updateOne: { filter: { _id: id }, update: { $set: { n: 2 } }, upsert: true },
        })),
        { ordered: false },
      );
      expect(await things.find({}).toArray()).toHaveLength(4);
      expect(commands.filter((c) => ["insert", "update", "find"].includes(c))).toEqual([
        "insert",
        "update",
        "find",
      ]);
    } finally {
      await counted.db.dropDatabase();
      await counted.close();
    }
  });
});
