import { createEvent, type AnyEvent } from "@parley/contracts";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUTBOX, type AttemptStore } from "../../domain/ports.js";
import { memoryAttempts } from "../../sending/fixtures.spec-helpers.js";
import { createMongoAttemptStore } from "./attempt-store.js";

// The attempt store's record of where each outcome is published from, against the real
// MongoDB-wire server: origins kept with the outcomes in the same compare-and-set write, outbox
// events pending until marked published (many requests in one round trip), a parked record's
// outcomes adopted by the outbox once, and the sweep's query.
let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("attempt-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const NUMBER = "106540352242951";

function outcome(requestId: string, type: "SendAccepted" | "SendInDoubt"): AnyEvent {
  const meta = { correlationId: requestId, businessNumber: NUMBER, now: new Date() };
  const identity = { requestId, idempotencyKey: requestId, contactId: "16505550001" };
  return type === "SendAccepted"
    ? createEvent(
        "SendAccepted",
        { ...identity, wamid: `wamid.${requestId}`, usedTemplateFallback: false, attempts: 1 },
        meta,
      )
    : createEvent(
        "SendInDoubt",
        {
          ...identity,
          bizOpaqueCallbackData: requestId,
          reason: "timeout",
          attemptedAt: new Date().toISOString(),
        },
        meta,
      );
}

async function calling(store: ReturnType<typeof createMongoAttemptStore>, requestId: string) {
  const claim = {
    requestId,
    number: NUMBER,
    contactId: "16505550001",
    bizOpaqueCallbackData: requestId,
    at: new Date(),
    owner: "owner-1",
  };
  expect(await store.claim(claim)).toBe(true);
  expect(await store.fence(requestId, 1, new Date())).toBe(true);
}

describe("MongoDB attempt store: where outcomes are published from", () => {
  it("keeps each outcome's origin with it; a record's outcomes are never pending, the outbox's are until marked published", async () => {
    const store = createMongoAttemptStore(mongo.db, "attempts_origins");
    await store.ensureIndexes();
    await calling(store, "rec-1");
    const accepted = outcome("rec-1", "SendAccepted");
    const settled = await store.settle({
      requestId: "rec-1",
      epoch: 1,
      from: "calling",
      state: "done",
      outcomes: [accepted],
      at: new Date(),
      origin: "dispatch:2:41",
      wamid: "wamid.rec-1",
    });
    expect(settled).toBe(true);
    const rec = await store.get("rec-1");
    expect(rec?.origins.get(accepted.eventId)).toBe("dispatch:2:41");
    expect(rec?.unpublished).toEqual([]);

    // In doubt through the outbox (as the timeout sweep or a parked dispatch would).
    await calling(store, "box-1");
    const doubt = outcome("box-1", "SendInDoubt");
    expect(await store.markInDoubt("box-1", 1, doubt, new Date(), OUTBOX)).toBe(true);
    await calling(store, "box-2");
    const other = outcome("box-2", "SendInDoubt");
    expect(await store.markInDoubt("box-2", 1, other, new Date(), OUTBOX)).toBe(true);
    expect((await store.get("box-1"))?.unpublished).toEqual([doubt.eventId]);
    const pending = await store.unpublishedBefore(new Date(Date.now() + 1_000), 10);
    expect(pending.map((a) => a.requestId).sort()).toEqual(["box-1", "box-2"]);
    expect(await store.unpublishedBefore(new Date(Date.now() - 60_000), 10)).toEqual([]);

    // Marked published (both requests in one round trip): no longer pending, nor swept.
    await Promise.all([
      store.markPublished("box-1", [doubt.eventId]),
      store.markPublished("box-2", [other.eventId]),
    ]);
    expect((await store.get("box-1"))?.unpublished).toEqual([]);
    expect(await store.unpublishedBefore(new Date(Date.now() + 1_000), 10)).toEqual([]);
    const raw = await mongo.db
      .collection<{ _id: string }>("attempts_origins")
      .findOne({ _id: "box-2" });
    expect(raw).not.toHaveProperty("outboxSince");
    expect(raw).not.toHaveProperty("unpublished");
  });

  it("answers the oldest request still in doubt by inDoubtSince (the in-doubt gauge)", async () => {
    const store = createMongoAttemptStore(mongo.db, "attempts_oldest");
    await store.ensureIndexes();
    expect(await store.oldestInDoubt()).toBeUndefined();
    await calling(store, "late");
    const late = outcome("late", "SendInDoubt");
    expect(await store.markInDoubt("late", 1, late, new Date(2_000_000), OUTBOX)).toBe(true);
    await calling(store, "early");
    expect(
      await store.settle({
        requestId: "early",
        epoch: 1,
        from: "calling",
        state: "in_doubt",
        outcomes: [outcome("early", "SendInDoubt")],
        at: new Date(1_000_000),
        origin: "dispatch:0:1",
      }),
    ).toBe(true);
    expect((await store.oldestInDoubt())?.getTime()).toBe(1_000_000);
    // Resolved: no longer in doubt, the next one is the oldest; then none.
    const reconciled = outcome("early", "SendAccepted");
    expect(await store.resolveInDoubt("early", reconciled, "wamid.early", OUTBOX)).toBe(true);
    expect((await store.oldestInDoubt())?.getTime()).toBe(2_000_000);
    expect(await store.resolveInDoubt("late", outcome("late", "SendAccepted"), "", OUTBOX)).toBe(
      true,
    );
    expect(await store.oldestInDoubt()).toBeUndefined();
  });

  it("adopts a parked record's outcomes into the outbox once; outcomes of another origin stay", async () => {
    const store = createMongoAttemptStore(mongo.db, "attempts_adopt");
    await store.ensureIndexes();
    await calling(store, "parked-1");
    const accepted = outcome("parked-1", "SendAccepted");
    await store.settle({
      requestId: "parked-1",
      epoch: 1,
      from: "calling",
      state: "done",
      outcomes: [accepted],
      at: new Date(),
      origin: "dispatch:0:7",
    });
    expect(await store.adopt("parked-1", "dispatch:0:8", [accepted.eventId])).toBe(false);
    expect(await store.adopt("parked-1", "dispatch:0:7", [accepted.eventId])).toBe(true);
    const adopted = await store.get("parked-1");
    expect(adopted?.origins.get(accepted.eventId)).toBe(OUTBOX);
    expect(adopted?.unpublished).toEqual([accepted.eventId]);
    // A second drain of the same park (a crash before the park was removed) adopts nothing.
    expect(await store.adopt("parked-1", "dispatch:0:7", [accepted.eventId])).toBe(false);
    expect((await store.get("parked-1"))?.unpublished).toEqual([accepted.eventId]);
  });
});

// A contract both stores keep: the unit tests' fake answers as MongoDB does.
describe.each([
  ["MongoDB", () => createMongoAttemptStore(mongo.db, "attempts_pairs")],
  ["in memory", () => memoryAttempts()],
] as const)(
  "%s attempt store: a pair's recent calls (a new owner's pacing seed)",
  (_name, make) => {
    it("answers the fenced call instants of one (number, recipient) since an instant, many pairs in one batch", async () => {
      const store: AttemptStore = make();
      await store.ensureIndexes();
      const other = "106540352242952";
      const base = Date.now() - 60_000;
      const call = async (
        id: string,
        number: string,
        recipient: string | undefined,
        at: number,
      ) => {
        expect(
          await store.claim({
            requestId: id,
            number,
            ...(recipient === undefined ? {} : { recipient }),
            contactId: recipient ?? "legacy",
            bizOpaqueCallbackData: id,
            at: new Date(at),
            owner: "owner-1",
          }),
        ).toBe(true);
        expect(await store.fence(id, 1, new Date(at))).toBe(true);
      };
      await call("p-1", NUMBER, "16505550101", base);
      await call("p-2", NUMBER, "16505550101", base + 1_000);
      await call("p-3", NUMBER, "16505550102", base + 2_000);
      await call("p-4", other, "16505550101", base + 3_000);
      // A claim never fenced (no call) and a legacy record without a recipient count for nothing.
      expect(
        await store.claim({
          requestId: "p-5",
          number: NUMBER,
          recipient: "16505550101",
          contactId: "16505550101",
          bizOpaqueCallbackData: "p-5",
          at: new Date(base + 4_000),
          owner: "owner-1",
        }),
      ).toBe(true);
      await call("p-6", NUMBER, undefined, base + 5_000);
      const [a, aLater, b, elsewhere, none] = await Promise.all([
        store.recentPairCalls(NUMBER, "16505550101", new Date(base - 1)),
        store.recentPairCalls(NUMBER, "16505550101", new Date(base)),
        store.recentPairCalls(NUMBER, "16505550102", new Date(base - 1)),
        store.recentPairCalls(other, "16505550101", new Date(base - 1)),
        store.recentPairCalls(NUMBER, "16505550199", new Date(base - 1)),
      ]);
      expect([...a].sort()).toEqual([base, base + 1_000]);
      expect(aLater).toEqual([base + 1_000]);
      expect(b).toEqual([base + 2_000]);
      expect(elsewhere).toEqual([base + 3_000]);
      expect(none).toEqual([]);
      // The number-wide probe a new owner reads first: the latest call (a legacy record's too),
      // never an unfenced claim, none past it.
      expect(await store.latestCallAt(NUMBER, new Date(base - 1))).toBe(base + 5_000);
      expect(await store.latestCallAt(other, new Date(base - 1))).toBe(base + 3_000);
      expect(await store.latestCallAt(other, new Date(base + 3_000))).toBeUndefined();
      expect(await store.latestCallAt("106540352249999", new Date(0))).toBeUndefined();
    });
  },
);

// A fence undone before its call (an opt-out heard while the send waited for its slot, ADR
// 0006): both stores answer alike.
describe.each([
  ["MongoDB", () => createMongoAttemptStore(mongo.db, "attempts_unfence")],
  ["in memory", () => memoryAttempts()],
] as const)("%s attempt store: a fence undone before its call", (_name, make) => {
  it("turns a calling record back to claimed under its epoch, with no call counted or instant kept, once", async () => {
    const store: AttemptStore = make();
    await store.ensureIndexes();
    const at = new Date(Date.now() - 1_000);
    // A first send: its claim is its fence (inserted calling, one call, epoch 1).
    expect(
      await store.claim({
        requestId: "u-1",
        number: NUMBER,
        recipient: "16505550201",
        contactId: "16505550201",
        bizOpaqueCallbackData: "u-1",
        at,
        owner: "owner-1",
        calledAt: at,
      }),
    ).toBe(true);
    expect(await store.unfence("u-1", 2)).toBe(false);
    expect(await store.unfence("u-1", 1)).toBe(true);
    const record = await store.get("u-1");
    expect(record?.state).toBe("claimed");
    expect(record?.calls).toBe(0);
    expect(record?.calledAt).toBeUndefined();
    // No call for the pair's pacing seed, and nothing left to undo.
    expect(await store.recentPairCalls(NUMBER, "16505550201", new Date(at.getTime() - 1))).toEqual(
      [],
    );
    expect(await store.unfence("u-1", 1)).toBe(false);
    // Still ours: it ends without a call under its epoch.
    expect(
      await store.settle({
        requestId: "u-1",
        epoch: 1,
        from: "claimed",
        state: "done",
        outcomes: [],
        at: new Date(),
        origin: OUTBOX,
      }),
    ).toBe(true);
  });
});
