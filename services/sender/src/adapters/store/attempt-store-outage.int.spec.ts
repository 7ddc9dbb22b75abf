import { createMongo, type MongoConnection } from "@parley/mongo";
import { retryOf } from "@parley/errors";
import { startStack, startTcpRelay, type Stack, type TcpRelay } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongoAttemptStore } from "./attempt-store.js";

// A first send's one write before the call (ADR 0006) meeting MongoDB's restart: the insert's
// round trip cut under it fails as a bulk error with no write errors. It was read as "inserted"
// (the claim won), so the call would go out with no record of it, and a redelivery after a crash
// would call again. The real server stands behind the testkit's relay, which cuts the connection.
let stack: Stack;
let relay: TcpRelay;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const target = new URL(stack.mongoUrl);
  relay = await startTcpRelay({ host: target.hostname, port: Number(target.port || 27017) });
  const ns = stack.namespace("attempt-store-outage");
  mongo = createMongo({
    url: `mongodb://127.0.0.1:${String(relay.port)}/?directConnection=true&retryWrites=false`,
    database: ns.database(),
    appName: ns.id,
    serverSelectionTimeoutMs: 500,
  });
});

afterAll(async () => {
  await mongo.db.dropDatabase().catch(() => undefined);
  await mongo.close();
  await relay.close();
  await stack.stop();
});

describe("a first claim whose insert meets an outage", () => {
  it("is refused as an outage, not won; nothing is stored; once back, the claim wins once", async () => {
    const attempts = createMongoAttemptStore(mongo.db);
    const claim = () =>
      attempts.claim({
        requestId: "cut-1",
        number: "106540352249002",
        recipient: "16505559002",
        contactId: "16505559002",
        bizOpaqueCallbackData: "cut-1",
        at: new Date(),
        owner: "owner-a",
        calledAt: new Date(),
      });
    // Connected first, so the cut meets the insert on a pooled connection.
    expect(await attempts.get("cut-1")).toBeUndefined();
    relay.mode("cut");
    const cut = await claim().catch((e: unknown) => e);
    relay.mode("pass");
    expect(cut).toBeInstanceOf(Error);
    expect(retryOf(cut)).toBe("outage");
    let stored: unknown = "unknown";
    for (let i = 0; i < 40 && stored === "unknown"; i++) {
      stored = await attempts.get("cut-1").catch(() => "unknown");
      if (stored === "unknown") await new Promise((r) => setTimeout(r, 250));
    }
    expect(stored).toBeUndefined();
    expect(await claim()).toBe(true);
    expect(await claim()).toBe(false);
    expect(await attempts.get("cut-1")).toMatchObject({ state: "calling" });
  }, 60_000);
});
