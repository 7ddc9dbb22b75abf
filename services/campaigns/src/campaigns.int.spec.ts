import { createEvent, exampleData, type EventOf } from "@parley/contracts";
import { createEventConsumer } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAudienceFiles } from "./adapters/file/audience-files.js";
import { CONTACTS_CONSUMER, createContactsConsumer } from "./adapters/kafka/contacts-consumer.js";
import { createSendPublisher } from "./adapters/kafka/publish-sends.js";
import {
  CONTACTS,
  createMongoFactsReader,
  createMongoPlanStore,
  createMongoSendQueue,
  skipsOf,
} from "./adapters/store/plan-store.js";
import { campaignDefinition } from "./domain/campaign.js";
import { idempotencyKeyOf } from "./domain/plan.js";
import { uuidV5Of } from "./planning/ids.js";
import type { PlanStore, PublishSends } from "./planning/ports.js";
import { releaseTick } from "./planning/release.js";
import { runPlan } from "./planning/run-plan.js";
import { startCampaignsInt } from "./int-harness.spec-helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const N = 1_000;
const phoneOf = (i: number) => `34612${String(i).padStart(6, "0")}`;
/** Row i: every 10th repeats the row before, every 25th is not JSON, every 7th contact opted out, every 11th never opted in. */
const lines = Array.from({ length: N }, (_, i) => {
  if (i % 25 === 24) return "{not json";
  const n = i % 10 === 9 ? i - 1 : i;
  return JSON.stringify({ phone: `+${phoneOf(n)}`, params: { first_name: `C${n}` } });
});
const optedOut = (n: number) => n % 7 === 0;
const neverOptedIn = (n: number) => n % 11 === 0;

describe("campaigns against real Kafka and MongoDB", () => {
  let ctx: Awaited<ReturnType<typeof setUp>>;
  beforeAll(async () => {
    ctx = await setUp();
  }, 240_000);

  it("plans through a crash, releases through a crash: every expected recipient's SendRequested, no other, repeats only the same request", async () => {
    const { db, audiences, publish, published } = ctx;
    const campaign = campaignDefinition.parse({
      id: "int-flash",
      owner: "marketing",
      template: { name: "flash_sale", language: { code: "es" } },
      category: "marketing",
      bodyParameters: ["first_name"],
      numbers: ["400001", "400002"],
      schedule: { startAt: "2026-01-01T00:00:00.000Z" },
    });
    const numbers = [
      { phoneNumberId: "400001", mps: 60 },
      { phoneNumberId: "400002", mps: 20 },
    ];
    const { ref } = await audiences.save(
      campaign.id,
      (async function* () {
        yield await Promise.resolve(Buffer.from(lines.join("\n") + "\n"));
      })(),
      1_000_000,
    );
    const store = createMongoPlanStore({ db });
    let chunks = 0;
    const crashing: PlanStore = {
      ...store,
      record: async (id, decisions, now) => {
        await store.record(id, decisions, now);
        if (++chunks === 4) throw new Error("planner killed after its 4th chunk's writes");
      },
    };
    const options = {
      campaign,
      numbers,
      limitBudget: Number.POSITIVE_INFINITY,
      audience: () => audiences.rows(ref, "jsonl"),
      facts: createMongoFactsReader({ db }),
      requestIdOf: uuidV5Of,
      clock: () => new Date(),
      chunkSize: 100,
    };
    await expect(runPlan({ ...options, store: crashing })).rejects.toThrow(/killed/);
    const plan = await runPlan({ ...options, store });
    expect(plan.complete).toBe(true);

    // Release at the caps; the third batch's acks are lost (a crash after the append).
    const queue = createMongoSendQueue({ db });
    let batches = 0;
    const flaky: PublishSends = async (sends, now) => {
      await publish(sends, now);
      if (++batches === 3) throw new Error("releaser killed before marking");
    };
    for (let tick = 0; tick < 200 && (await queue.pending(campaign.id)) > 0; tick++) {
      const perSecond = new Map(numbers.map((n) => [n.phoneNumberId, n.mps]));
      const released = await releaseTick(campaign, numbers, perSecond, {
        queue,
        publish: flaky,
        clock: () => new Date(),
      }).then(
        (r) => [...r.values()].reduce((a, b) => a + b, 0),
        () => -1,
      );
      expect(released).toBeLessThanOrEqual(80);
    }
    expect(await queue.pending(campaign.id)).toBe(0);

    const expected = new Set<string>();
    for (let i = 0; i < N; i++) {
      if (i % 25 === 24 || i % 10 === 9) continue;
      if (optedOut(i) || neverOptedIn(i)) continue;
      expected.add(uuidV5Of(idempotencyKeyOf(campaign.id, phoneOf(i))));
    }
    await waitFor(() => new Set(published.map((e) => e.correlationId)).size >= expected.size, {
      timeoutMs: 60_000,
      description: "every SendRequested read back",
    });
    const ids = new Set(published.map((e) => e.correlationId));
    expect(ids).toEqual(expected);
    for (const e of published) {
      expect(e.data.idempotencyKey).toBe(`campaign:${campaign.id}:${e.data.contactId}`);
      expect(e.correlationId).toBe(uuidV5Of(e.data.idempotencyKey));
      expect(e.eventId).toBe(uuidV5Of(`${e.correlationId}:SendRequested`));
    }
    // Each number under its cap share: 3:1.
    const perNumber = new Map<string, number>();
    for (const id of ids) {
      const e = published.find((p) => p.correlationId === id);
      const sender = e?.data.sender;
      if (sender?.kind === "businessNumber") {
        perNumber.set(sender.phoneNumberId, (perNumber.get(sender.phoneNumberId) ?? 0) + 1);
      }
    }
    expect(
      Math.abs((perNumber.get("400001") ?? 0) - 3 * (perNumber.get("400002") ?? 0)),
    ).toBeLessThanOrEqual(4);
    // The repeats are the one batch whose acks were lost.
    expect(published.length - ids.size).toBeLessThanOrEqual(80);
    // The plan report lists every skip with its reason.
    const skips = await skipsOf(db, campaign.id, { limit: 1000 });
    const reasons = new Map<string, number>();
    for (const s of skips) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    expect(Object.fromEntries(reasons)).toEqual(plan.counters.skipped);
    expect(skips.length + plan.counters.planned).toBe(N);
    expect(plan.counters.planned).toBe(expected.size);

    // A second campaign over the same audience with a frequency cap of one in 7 days: every
    // recipient the first planned is capped (their sends read by _id), the others are decided as
    // before.
    const second = campaignDefinition.parse({
      ...campaign,
      id: "int-flash-2",
      frequencyCap: { max: 1, days: 7 },
    });
    const again = await runPlan({ ...options, campaign: second, store });
    expect(again.counters.planned).toBe(0);
    expect(again.counters.skipped.frequency_cap).toBe(expected.size);
    expect(again.counters.skipped).toEqual({
      ...plan.counters.skipped,
      frequency_cap: expected.size,
    });
  }, 240_000);
});

async function setUp() {
  const { catalog, kafka, serde, mongo, producer, dir } = await startCampaignsInt(
    "campaigns",
    (catalog) => [
      catalog.topic("send-requests"),
      catalog.topic("consent"),
      catalog.topic("conversation-windows"),
      catalog.deadLetterTopic(CONTACTS_CONSUMER),
      catalog.deadLetterTopic("campaigns-int-reader"),
    ],
    cleanups,
  );

  // Consent as the consent service publishes it, folded by the real consumer.
  const consent = catalog.topic("consent");
  const facts = [];
  for (let i = 0; i < N; i++) {
    if (neverOptedIn(i) && !optedOut(i)) continue;
    const type = optedOut(i) ? "ConsentRevoked" : "ConsentGranted";
    facts.push(
      createEvent(
        type,
        { ...exampleData[type], contactId: phoneOf(i), scope: "marketing" },
        { correlationId: `c-${i}`, now: new Date("2025-12-01T00:00:00.000Z") },
      ),
    );
  }
  await producer.publish(
    consent,
    facts.map((event) => ({ key: event.data.contactId, event })),
  );
  const contacts = createContactsConsumer({ kafka, serde, catalog, db: mongo.db });
  await contacts.start();
  cleanups.push(() => contacts.stop());
  await waitFor(
    async () => (await mongo.db.collection(CONTACTS).countDocuments()) === facts.length,
    {
      timeoutMs: 120_000,
      description: "consent folded into campaign_contacts",
    },
  );

  const published: EventOf<"SendRequested">[] = [];
  const reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "campaigns-int-reader",
    topics: [catalog.topic("send-requests")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      published.push(record.value);
      return Promise.resolve();
    },
  });
  await reader.start();
  cleanups.push(() => reader.stop());
  return {
    db: mongo.db,
    audiences: createAudienceFiles({ dir }),
    publish: createSendPublisher({ producer, catalog, eventIdOf: uuidV5Of }),
    published,
  };
}
