import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOutage, retryOf } from "@parley/errors";
import { startStack, startTcpRelay, type Stack, type TcpRelay } from "@parley/testkit";
import { createMongo } from "./connection.js";
import { guardStore } from "./errors.js";
import { createMongoStateStore } from "./state-store.js";

// A bulk write that meets a MongoDB restart (issue 26's chaos run, 2026-12-06 18:46 UTC): the
// driver wraps the network error of a `collection.bulkWrite` in a MongoBulkWriteError, which is
// neither a MongoNetworkError nor labelled retryable when retryWrites is off, so the store called
// it final and the sender dead-lettered 32 sends whose Graph call had been made ("sender_attempts
// settle failed: Connection ... interrupted due to server monitor timeout"). The real server
// stands behind a TCP relay that can cut every connection, or refuse new ones.

let stack: Stack;
let relay: TcpRelay;

beforeAll(async () => {
  stack = await startStack();
  const target = new URL(stack.mongoUrl);
  relay = await startTcpRelay({ host: target.hostname, port: Number(target.port || 27017) });
});

afterAll(async () => {
  await relay.close();
  await stack.stop();
});

describe("a bulk write that meets an outage", () => {
  it("is an outage (waited out) whether the connection is cut or no server answers; a write error stays final", async () => {
    const ns = stack.namespace("mongo-bulk-outage");
    const mongo = createMongo({
      url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&retryWrites=false`,
      database: ns.database(),
      appName: ns.id,
      serverSelectionTimeoutMs: 500,
    });
    const docs = mongo.db.collection<{ _id: string; n: number }>("docs");
    const bulk = (id: string) =>
      guardStore("docs", "bulk", () =>
        docs.bulkWrite(
          [{ updateOne: { filter: { _id: id }, update: { $inc: { n: 1 } }, upsert: true } }],
          { ordered: false },
        ),
      );
    try {
      await bulk("a");
      // The connection cut under the write (the server restarting).
      relay.mode("cut");
      const cut = await bulk("a").catch((e: unknown) => e);
      relay.mode("pass");
      expect(cut).toBeInstanceOf(Error);
      expect((cut as Error & { cause?: Error }).cause?.name).toBe("MongoBulkWriteError");
      expect(retryOf(cut)).toBe("outage");

      // No server at all (the relay refuses): the selection error, wrapped the same way.
      await relay.down();
      const down = await bulk("a").catch((e: unknown) => e);
      expect((down as Error & { cause?: Error }).cause?.name).toBe("MongoBulkWriteError");
      expect(isOutage(down)).toBe(true);

      // Back: the same write goes through, and a write the server refuses stays final.
      await relay.up();
      let back: unknown;
      for (let i = 0; i < 40; i++) {
        back = await bulk("a").then(
          () => undefined,
          (e: unknown) => e,
        );
        if (back === undefined) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(back).toBeUndefined();
      const refused = await guardStore("docs", "bulk", () =>
        docs.bulkWrite([{ insertOne: { document: { _id: "a", n: 0 } } }], { ordered: false }),
      ).catch((e: unknown) => e);
      expect((refused as Error & { cause?: Error }).cause?.name).toBe("MongoBulkWriteError");
      expect(retryOf(refused)).toBe("never");
    } finally {
      await mongo.close();
    }
  }, 60_000);
});

describe("a state store's save that meets an outage", () => {
  // The decider runtime's save (ADR 0010): a connection cut under a bulk of first inserts came
  // back as "saved", because the bulk error carried no write errors to blame; the runtime then
  // cached a state MongoDB never had, and the key's next write lost it (issue 26's chaos run: a
  // contact's read model without its SendRequested after MongoDB's restart).
  it("rejects as an outage, reports nothing saved, and the same writes land once it is back", async () => {
    const ns = stack.namespace("mongo-save-outage");
    const mongo = createMongo({
      url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&retryWrites=false`,
      database: ns.database(),
      appName: ns.id,
      serverSelectionTimeoutMs: 500,
    });
    const store = createMongoStateStore<{ n: number }, never>({
      db: mongo.db,
      collection: "states",
      toDocument: ({ n }) => ({ n }),
      fromDocument: (doc) => ({ n: doc["n"] as number }),
    });
    const keys = ["first", "second"];
    // First inserts only: with an update among them, the follow-up read of the versions meets
    // the outage too and hides the bug.
    const writes = keys.map((key, i) => ({
      key,
      state: { n: i + 1 },
      outbox: [],
      expectedVersion: 0,
    }));
    try {
      // Connected first, so the cut meets the bulk write on a pooled connection.
      expect((await store.loadMany(keys)).size).toBe(0);
      relay.mode("cut");
      const cut = await store.saveMany(writes).catch((e: unknown) => e);
      relay.mode("pass");
      expect(cut).toBeInstanceOf(Error);
      expect((cut as Error & { cause?: Error }).cause?.name).toBe("MongoBulkWriteError");
      expect(retryOf(cut)).toBe("outage");
      // Back: nothing was stored, and the same writes (the runtime's retry) land.
      let loaded = await store.loadMany(keys).catch(() => undefined);
      for (let i = 0; i < 40 && loaded === undefined; i++) {
        await new Promise((r) => setTimeout(r, 250));
        loaded = await store.loadMany(keys).catch(() => undefined);
      }
      expect(loaded?.size).toBe(0);
      expect([...(await store.saveMany(writes))]).toEqual([]);
      const after = await store.loadMany(keys);
      expect(after.get("first")).toMatchObject({ version: 1, state: { n: 1 } });
      expect(after.get("second")).toMatchObject({ version: 1, state: { n: 2 } });
    } finally {
      await mongo.close();
    }
  }, 60_000);
});
