import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOutage, retryOf } from "@parley/errors";
import { startStack, startTcpRelay, type Stack, type TcpRelay } from "@parley/testkit";
import { createMongo } from "./connection.js";
import { guardStore } from "./errors.js";

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
