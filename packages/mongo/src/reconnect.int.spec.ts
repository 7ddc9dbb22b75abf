import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, startTcpRelay, waitFor, type Stack, type TcpRelay } from "@parley/testkit";
import { createMongo, type MongoConnection } from "./connection.js";

// MongoDB down while a service starts (issue 26's chaos run): the driver's first connect fails,
// and the driver keeps the topology it closed, so that every later operation failed with
// "Topology is closed" even once the server was back. The real server stands behind a TCP relay
// that first refuses connections (nothing listens on its port), then relays them: the connection
// made while it refused must work once it relays, and the readiness probe must say so.

let stack: Stack;
let relay: TcpRelay | undefined;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await relay?.close();
  await stack.stop();
});

describe("a connection made while MongoDB is down", () => {
  it("works once the server answers: operations and the readiness probe recover", async () => {
    const mongoAt = new URL(stack.mongoUrl);
    relay = await startTcpRelay(
      { host: mongoAt.hostname, port: Number(mongoAt.port || 27017) },
      { listening: false },
    );
    const ns = stack.namespace("mongo-reconnect");
    const mongo: MongoConnection = createMongo({
      url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&retryWrites=false`,
      database: ns.database(),
      appName: ns.id,
      serverSelectionTimeoutMs: 500,
    });
    const docs = mongo.db.collection<{ _id: string; n: number }>("docs");
    try {
      // Down: the first operation (the driver's first connect) and the probe fail.
      await expect(docs.insertOne({ _id: "a", n: 1 })).rejects.toThrow();
      await expect(mongo.probe.check(AbortSignal.timeout(5_000))).rejects.toThrow();
      await relay.up();
      // Back: the same connection works again, within seconds.
      await waitFor(
        () =>
          docs.insertOne({ _id: "b", n: 2 }).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 20_000, intervalMs: 250, description: "an insert through the relay" },
      );
      expect(await docs.findOne({ _id: "b" })).toEqual({ _id: "b", n: 2 });
      await mongo.probe.check(AbortSignal.timeout(5_000));
      await mongo.db.dropDatabase();
    } finally {
      await mongo.close();
    }
  });
});
