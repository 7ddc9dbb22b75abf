import { afterAll, beforeAll } from "vitest";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { createMongoSendRecordStore } from "./mongo-store.js";
import { describeSendRecordStore } from "./store.contract.js";

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

describeSendRecordStore("MongoDB", () =>
  createMongoSendRecordStore({ db: mongo.db, collection: `send_requests_${++collections}` }),
);
