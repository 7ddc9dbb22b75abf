import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { createMongoSendRecordStore } from "./send-record-store.js";
import { describeSendRecordStore } from "../../sending/store.contract.js";

let stack: Stack;
let mongo: MongoConnection;
let collections = 0;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("send-api-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

describeSendRecordStore("MongoDB", (retention) =>
  createMongoSendRecordStore({
    db: mongo.db,
    collection: `send_requests_${++collections}`,
    ...retention,
  }),
);

describe("MongoDB send record store indexes", () => {
  it("keeps a TTL index on acceptedAt for the retention", async () => {
    const collection = `send_requests_ttl_${++collections}`;
    const ttlOf = async () =>
      (await mongo.db.collection(collection).indexes()).find((i) => i.name === "acceptedAt_ttl")
        ?.expireAfterSeconds;
    const day = 24 * 60 * 60 * 1000;
    const store = createMongoSendRecordStore({ db: mongo.db, collection, retentionMs: day });
    await store.ensureIndexes();
    expect(await ttlOf()).toBe(86_400);
    // A changed retention is applied with collMod where the server has it (real MongoDB); the
    // store's own expiry check does not depend on the index either way.
    await expect(
      createMongoSendRecordStore({
        db: mongo.db,
        collection,
        retentionMs: 2 * day,
      }).ensureIndexes(),
    ).resolves.toBeUndefined();
  });
});
