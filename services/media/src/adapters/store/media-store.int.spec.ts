import { createMongo } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { describeMediaQueries } from "../../media/media-queries-contract.unit-helpers.js";
import { createGraphIdCache, createMediaQueries, createMediaStateStore } from "./media-store.js";

let stack: Stack | undefined;
let close: (() => Promise<void>) | undefined;
const database = async () => {
  stack ??= await startStack();
  const ns = stack.namespace("media-store");
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  close = async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  };
  return mongo.db;
};
afterAll(async () => {
  await close?.();
  await stack?.stop();
});

describeMediaQueries("MongoDB", async () => {
  const db = await database();
  const queries = createMediaQueries(db);
  await queries.ensureIndexes();
  return { store: createMediaStateStore(db), queries };
});

describe("Graph id cache (MongoDB)", () => {
  it("keeps one id per number and content hash, replaced on re-upload", async () => {
    const cache = createGraphIdCache(await database());
    expect(await cache.get("1", "h")).toBeUndefined();
    await cache.put("1", "h", {
      graphMediaId: "111",
      uploadedAt: new Date("2026-03-01T00:00:00Z"),
    });
    await cache.put("2", "h", {
      graphMediaId: "222",
      uploadedAt: new Date("2026-03-01T00:00:00Z"),
    });
    await cache.put("1", "h", {
      graphMediaId: "333",
      uploadedAt: new Date("2026-03-28T00:00:00Z"),
    });
    expect(await cache.get("1", "h")).toEqual({
      graphMediaId: "333",
      uploadedAt: new Date("2026-03-28T00:00:00Z"),
    });
    expect((await cache.get("2", "h"))?.graphMediaId).toBe("222");
  });
});
