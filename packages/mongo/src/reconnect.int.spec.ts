import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { createMongo, type MongoConnection } from "./connection.js";

// MongoDB down while a service starts (issue 26's chaos run): the driver's first connect fails,
// and the driver keeps the topology it closed, so that every later operation failed with
// "Topology is closed" even once the server was back. The real server stands behind a TCP relay
// that first refuses connections (nothing listens on its port), then relays them: the connection
// made while it refused must work once it relays, and the readiness probe must say so.

let stack: Stack;
let relay: Server | undefined;
const sockets = new Set<Socket>();

/** A free port with nothing listening on it (yet). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      s.close(() => {
        resolve(port);
      });
    });
  });

function startRelay(port: number, target: URL): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 27017), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      resolve(server);
    });
  });
}

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => {
    if (relay === undefined) resolve();
    else
      relay.close(() => {
        resolve();
      });
  });
  await stack.stop();
});

describe("a connection made while MongoDB is down", () => {
  it("works once the server answers: operations and the readiness probe recover", async () => {
    const port = await freePort();
    const ns = stack.namespace("mongo-reconnect");
    const mongo: MongoConnection = createMongo({
      url: `mongodb://127.0.0.1:${String(port)}/?directConnection=true&retryWrites=false`,
      database: ns.database(),
      appName: ns.id,
      serverSelectionTimeoutMs: 500,
    });
    const docs = mongo.db.collection<{ _id: string; n: number }>("docs");
    try {
      // Down: the first operation (the driver's first connect) and the probe fail.
      await expect(docs.insertOne({ _id: "a", n: 1 })).rejects.toThrow();
      await expect(mongo.probe.check(AbortSignal.timeout(5_000))).rejects.toThrow();
      relay = await startRelay(port, new URL(stack.mongoUrl));
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
