import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retryOf } from "@parley/errors";
import { startStack, startTcpRelay, type Stack, type TcpRelay } from "@parley/testkit";
import { createMongo } from "./connection.js";
import { guardStore } from "./errors.js";

// An operation whose connection the driver closes while the operation waits to write (issue 26's
// chaos run, 2026-12-06 18:44 UTC: the projection's send-requests handlers hung for good after
// MongoDB's restart, each on a connection that was closed, never answered and never failed).
// mongodb 6.22 waits for the socket's 'drain' when a write does not fit its buffer; a socket it
// then destroys itself (here: the monitor's heartbeat times out and the pool interrupts its
// in-use connections) emits neither 'drain' nor 'error', so the operation never settled.
// patches/mongodb@6.22.0.patch fails such a write with the connection's error. The real server
// stands behind a TCP relay that can freeze (stop forwarding both ways, as a server that stopped
// reading).

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

describe("a write the driver interrupts while it waits for the socket", () => {
  it("fails as an outage instead of hanging, and the next write goes through", async () => {
    const ns = stack.namespace("mongo-write-interrupted");
    const mongo = createMongo({
      url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&retryWrites=false&heartbeatFrequencyMS=500`,
      database: ns.database(),
      appName: ns.id,
      serverSelectionTimeoutMs: 1_000,
      connectTimeoutMs: 2_000,
    });
    const docs = mongo.db.collection<{ _id: string; body: string }>("docs");
    try {
      await docs.insertOne({ _id: "small", body: "x" });
      // Frozen: the server reads nothing more, so a 12 MB write waits for 'drain', and the
      // monitor's next heartbeat times out (connectTimeoutMs 2 s here): the pool interrupts it.
      relay.mode("freeze");
      const started = Date.now();
      const big = guardStore("docs", "insert", () =>
        docs.insertOne({ _id: "big", body: "y".repeat(12 * 1024 * 1024) }),
      ).then(
        () => "written" as const,
        (error: unknown) => error,
      );
      // Thawed after 6 s (the server reads again): by then the monitor has interrupted the
      // connection, so the write can only fail, at once; without the patch it never settles.
      await new Promise((r) => setTimeout(r, 6_000));
      relay.mode("pass");
      const outcome = await Promise.race([
        big,
        new Promise<"hung">((resolve) => {
          setTimeout(() => {
            resolve("hung");
          }, 14_000);
        }),
      ]);
      expect(outcome).not.toBe("hung");
      expect(outcome).toBeInstanceOf(Error);
      expect(retryOf(outcome)).toBe("outage");
      expect(Date.now() - started).toBeLessThan(20_000);
      // The driver reconnects: the same write, tried again, lands.
      let again: unknown;
      for (let i = 0; i < 40; i++) {
        again = await docs.insertOne({ _id: "after", body: "z" }).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (again === undefined) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(again).toBeUndefined();
    } finally {
      relay.mode("pass");
      await mongo.close();
    }
  }, 60_000);

  it("a server that stops answering for 4 s (a GC pause, a backlog) delays the operations in flight but fails none", async () => {
    const ns = stack.namespace("mongo-server-stall");
    // The defaults but for a frequent heartbeat, so several fall inside the stall.
    const mongo = createMongo({
      url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&heartbeatFrequencyMS=500`,
      database: ns.database(),
      appName: ns.id,
    });
    const docs = mongo.db.collection<{ _id: string }>("docs");
    try {
      await docs.insertOne({ _id: "before" });
      relay.mode("freeze");
      const writes = Array.from({ length: 5 }, (_, i) =>
        guardStore("docs", "insert", () => docs.insertOne({ _id: `during-${String(i)}` })).then(
          () => "written" as const,
          (error: unknown) => error,
        ),
      );
      await new Promise((r) => setTimeout(r, 4_000));
      relay.mode("pass");
      // With a 2 s heartbeat timeout the monitor cleared the pool mid-stall and every write failed.
      expect(await Promise.all(writes)).toEqual(Array.from({ length: 5 }, () => "written"));
      expect(await docs.countDocuments()).toBe(6);
    } finally {
      relay.mode("pass");
      await mongo.close();
    }
  }, 60_000);
});
