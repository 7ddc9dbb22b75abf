import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { campaignDefinition } from "../../domain/campaign.js";
import { createPlanner, type AudienceRow, type PlanDecision } from "../../domain/plan.js";
import { uuidV5Of } from "../../planning/ids.js";
import {
  createMongoPlanStore,
  createMongoSendQueue,
  ensureIndexes,
  RECIPIENTS,
  SKIPS,
  type RecipientDoc,
} from "./plan-store.js";

// The plan store records a chunk's recipients with unordered inserts (ADR 0015, "Planning cost"):
// a chunk recorded again after a crash keeps what the first pass wrote, a duplicate key is no
// error, and a recipient released in between stays released (an upsert would have queued it
// again). Against the real MongoDB (the stand-in in CI).

let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("campaigns-plan-store");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await ensureIndexes(mongo.db);
}, 120_000);

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const campaign = campaignDefinition.parse({
  id: "store-repeat",
  owner: "marketing",
  template: { name: "spring_sale", language: { code: "es" } },
  category: "utility",
  bodyParameters: ["first_name"],
  numbers: ["200001", "200002"],
  schedule: { startAt: "2026-12-01T00:00:00.000Z" },
});
const numbers = [
  { phoneNumberId: "200001", mps: 80 },
  { phoneNumberId: "200002", mps: 40 },
];

/** 300 rows: every 10th unparsable (a skip), the rest Spanish numbers with a first name. */
function decisions(): PlanDecision[] {
  const planner = createPlanner({
    campaign,
    numbers,
    limitBudget: Infinity,
    requestIdOf: uuidV5Of,
  });
  return Array.from({ length: 300 }, (_, i): AudienceRow => {
    if (i % 10 === 9) return { ok: false, index: i, line: i + 2, problem: "not JSON" };
    return {
      ok: true,
      index: i,
      line: i + 2,
      phone: `+34612${String(i).padStart(6, "0")}`,
      params: { first_name: `Ana ${String(i)}` },
    };
  }).map((row) =>
    planner.decide(row, { consent: "granted", recentCampaignSends: 0, windowOpen: false }),
  );
}

describe("campaign plan store: a chunk recorded again", () => {
  it("keeps one document per recipient and per skip, the first pass's, and a released one released", async () => {
    const store = createMongoPlanStore({ db: mongo.db });
    const queue = createMongoSendQueue({ db: mongo.db });
    const all = decisions();
    const planned = all.filter((d) => d.kind === "planned");
    const first = new Date("2026-11-30T10:00:00.000Z");
    // The first pass wrote part of the chunk before the crash, then the release took some of it.
    await store.record(campaign.id, all.slice(0, 120), first);
    const due = await queue.due(campaign, "200001", new Date("2026-12-02T00:00:00.000Z"), 10);
    expect(due).toHaveLength(10);
    await queue.markReleased(campaign.id, due);
    // The resumed run records the whole chunk again, twice (a second crash).
    const again = new Date("2026-11-30T10:05:00.000Z");
    await store.record(campaign.id, all, again);
    await store.record(campaign.id, all, again);

    const docs = await mongo.db
      .collection<RecipientDoc>(RECIPIENTS)
      .find({ campaignId: campaign.id })
      .sort({ index: 1 })
      .toArray();
    expect(docs.map((d) => d.contactId)).toEqual(planned.map((d) => d.contactId));
    const released = new Set(due.map((d) => d.contactId));
    for (const d of docs) {
      const decided = planned.find((p) => p.contactId === d.contactId);
      expect(d.requestId).toBe(decided?.requestId);
      expect(d.country).toBe("ES");
      expect(d.plannedAt).toEqual(d.index < 120 ? first : again);
      expect(d.released).toBe(released.has(d.contactId));
      expect(d.params).toEqual(released.has(d.contactId) ? undefined : [`Ana ${String(d.index)}`]);
    }
    expect(await mongo.db.collection(SKIPS).countDocuments({ campaignId: campaign.id })).toBe(30);
    expect(await queue.pending(campaign.id)).toBe(planned.length - 10);
    // Rebuilt by the releaser: the same SendRequested the planner decided.
    const next = await queue.due(campaign, "200002", new Date("2026-12-02T00:00:00.000Z"), 5);
    for (const s of next) {
      expect(s.request).toEqual(planned.find((p) => p.contactId === s.contactId)?.request);
    }
  });

  it("still fails on a write error that is no duplicate key", async () => {
    const store = createMongoPlanStore({ db: mongo.db });
    const [one] = decisions().filter((d) => d.kind === "planned");
    if (one === undefined) throw new Error("no planned row");
    // A document over MongoDB's 16 MiB limit: an error that is no duplicate key surfaces.
    const hostile = { ...one, contactId: "x".repeat(20_000_000) };
    await expect(store.record("store-fail", [hostile], new Date())).rejects.toThrow();
  });
});
