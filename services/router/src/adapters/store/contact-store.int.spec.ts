import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll } from "vitest";
import { contactStoreContract } from "../../inbound/contact-store.contract.js";
import { createMongoContactStore } from "./contact-store.js";

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

contactStoreContract("MongoDB", () => createMongoContactStore({ db: mongo.db }));
