import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createEvent,
  headerNames,
  parseContactId,
  type AnyEvent,
  type EventOf,
} from "@parley/contracts";
import { createCommandHandler } from "@parley/decider";
import { createConsumerRunner, createEventConsumer } from "@parley/kafka";
import type { RateCard } from "@parley/pricing";
import { createAuthenticator } from "@parley/runtime";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAudienceFiles } from "./adapters/file/audience-files.js";
import { startCampaignsApiServer } from "./adapters/http/server.js";
import { runCli } from "./adapters/cli/run-cli.js";
import { createProgressConsumer, PROGRESS_CONSUMER } from "./adapters/kafka/progress-consumer.js";
import { createSendPublisher } from "./adapters/kafka/publish-sends.js";
import { createCampaignReader, createCampaignStateStore } from "./adapters/store/campaign-store.js";
import {
  createMongoFactsReader,
  createMongoPlanStore,
  createMongoSendQueue,
  noteReached,
  plannedGroupsOf,
  reachedLast24h,
} from "./adapters/store/plan-store.js";
import { applyContactEvent } from "./adapters/store/contacts.js";
import { createMongoDeliveries, ensureProgressIndexes } from "./adapters/store/progress-store.js";
import { createCampaigns, type Campaigns } from "./control/campaigns.js";
import { eventsOf } from "./delivery-events.unit-helpers.js";
import { campaignDefinition } from "./domain/campaign.js";
import { campaignDecider } from "./domain/lifecycle.js";
import { idempotencyKeyOf } from "./domain/plan.js";
import { uuidV5Of } from "./planning/ids.js";
import { startCampaignsInt } from "./int-harness.spec-helpers.js";

const CLI_KEY = "cli-key-0123456789";

/** Runs the CLI in this process against the real API; answers its exit code and its output. */
async function cli(args: readonly string[], env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  const code = await runCli(args, {
    env: { PARLEY_CAMPAIGNS_URL: apiBase, PARLEY_CAMPAIGNS_TOKEN: CLI_KEY, ...env },
    fetch: globalThis.fetch,
    out: (t) => (out += t),
    err: (t) => (err += t),
    tty: false,
    sleep: async () => {
      await campaigns.tick();
      await campaigns.settle();
    },
  });
  return { code, out, err };
}

/** Made-up figures in the shape of an operator's card (never Meta's prices). */
const card: RateCard = {
  currency: "USD",
  source: "test card",
  markets: [
    { market: "Brazil", countries: ["BR"], rates: { marketing: 0.0625, utility: 0.0068 } },
    { market: "India", countries: ["IN"], rates: { marketing: 0.0107, utility: 0.0014 } },
    { market: "Germany", countries: ["DE"], rates: { marketing: 0.1365, utility: 0.0456 } },
  ],
  otherwise: { market: "Rest", rates: { marketing: 0.05, utility: 0.01 } },
};

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let campaigns: Campaigns;
let publishEvents: (events: readonly AnyEvent[]) => Promise<void>;
let published: EventOf<"SendRequested">[];
const deadLetters: string[] = [];
let dir: string;
let reached: (now: Date) => Promise<number>;
let apiBase: string;
let openWindow: (contactId: string, expiresAt: Date) => Promise<void>;

beforeAll(async () => {
  const h = await startCampaignsInt(
    "campaigns-progress",
    (catalog) => [
      catalog.topic("send-requests"),
      catalog.topic("send-outcomes"),
      catalog.topic("statuses"),
      catalog.deadLetterTopic(PROGRESS_CONSUMER),
      catalog.deadLetterTopic("campaigns-progress-reader"),
    ],
    cleanups,
  );
  const { ns, catalog, kafka, serde, mongo, producer } = h;
  dir = h.dir;
  await ensureProgressIndexes(mongo.db);

  const deliveries = createMongoDeliveries({ db: mongo.db });
  reached = (now) => reachedLast24h(mongo.db, now);
  openWindow = (contactId, expiresAt) =>
    applyContactEvent(
      mongo.db,
      createEvent(
        "ConversationWindowOpened",
        {
          contactId,
          openedBy: `wamid.in-${contactId}`,
          expiresAt: expiresAt.toISOString(),
          freeEntryPoint: false,
        },
        { correlationId: `w-${contactId}`, now: new Date() },
      ),
    );
  campaigns = createCampaigns({
    handler: createCommandHandler({
      decider: campaignDecider,
      store: createCampaignStateStore({ db: mongo.db }),
      publish: () => Promise.resolve(),
      context: (commands, now) => commands.map(() => ({ now })),
      cacheSize: 0,
    }),
    reader: createCampaignReader({ db: mongo.db }),
    plans: createMongoPlanStore({ db: mongo.db }),
    queue: createMongoSendQueue({ db: mongo.db }),
    facts: createMongoFactsReader({ db: mongo.db }),
    publish: createSendPublisher({ producer, catalog, eventIdOf: uuidV5Of }),
    audiences: createAudienceFiles({ dir }),
    numbersOf: (d) =>
      d.numbers.map((phoneNumberId) => ({ phoneNumberId, mps: d.id === "slow" ? 1 : 200 })),
    tier: "unlimited",
    reached: () => Promise.resolve(0),
    requestIdOf: uuidV5Of,
    clock: () => new Date(),
    chunkSize: 100,
    tickMs: 1000,
    releaseLeadMs: 0,
    rateCard: card,
    deliveries,
    plannedGroups: (id) => plannedGroupsOf(mongo.db, id),
    failureRateThreshold: 0.2,
  });
  const api = await startCampaignsApiServer({
    host: "127.0.0.1",
    port: 0,
    campaigns,
    skips: () => Promise.resolve([]),
    authenticator: createAuthenticator({
      api: "campaigns",
      keys: [
        {
          id: "ops",
          keySha256: createHash("sha256").update(CLI_KEY).digest("hex"),
          scopes: ["read", "write", "control"],
        },
      ],
    }),
    maxBodyBytes: 65_536,
    maxAudienceBytes: 10_000_000,
  });
  cleanups.push(() => api.stop());
  apiBase = `http://127.0.0.1:${String(api.port)}`;
  const progress = createProgressConsumer({
    kafka,
    serde,
    catalog,
    deliveries,
    onFailure: async (id) => {
      await campaigns.noteFailure(id);
    },
    onReached: (contactId, at) => noteReached(mongo.db, contactId, at),
  });
  await progress.start();
  cleanups.push(() => progress.stop());

  published = [];
  const reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "campaigns-progress-reader",
    topics: [catalog.topic("send-requests")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      published.push(record.value);
      return Promise.resolve();
    },
  });
  await reader.start();
  cleanups.push(() => reader.stop());
  const dlq = createConsumerRunner({
    kafka,
    groupId: ns.group("dlq-reader"),
    topics: [catalog.deadLetterTopic(PROGRESS_CONSUMER).name],
    deadLetterTopic: catalog.deadLetterTopic("campaigns-progress-reader").name,
    fromBeginning: true,
    decode: (record) => record,
    handle: (record) => {
      deadLetters.push(record.headers[headerNames.dlq.errorMessage] ?? "");
      return Promise.resolve();
    },
  });
  await dlq.start();
  cleanups.push(() => dlq.stop());

  publishEvents = async (events) => {
    const outcomes = events.filter((e) => e.type !== "StatusUpdated");
    const statuses = events.filter((e) => e.type === "StatusUpdated");
    const keyed = (es: readonly AnyEvent[]) =>
      es.map((event) => ({ key: (event.data as { contactId: string }).contactId, event }));
    if (statuses.length > 0) await producer.publish(catalog.topic("statuses"), keyed(statuses));
    if (outcomes.length > 0)
      await producer.publish(catalog.topic("send-outcomes"), keyed(outcomes));
  };
}, 300_000);

const audienceOf = async (id: string, phones: readonly string[]) => {
  await campaigns.attachAudience(
    id,
    "jsonl",
    (async function* () {
      yield await Promise.resolve(
        Buffer.from(phones.map((phone) => JSON.stringify({ phone })).join("\n")),
      );
    })(),
    1_000_000,
  );
};

const definitionOf = (id: string) =>
  campaignDefinition.parse({
    id,
    owner: "billing",
    template: { name: "statement_ready", language: { code: "en" } },
    category: "utility",
    numbers: ["600001"],
    schedule: { startAt: "2026-12-01T00:00:00.000Z" },
  });

describe("campaign progress and cost from real outcomes and statuses", () => {
  it("the forecast for a mixed-country audience equals the sum of the reconciled costs when every message is delivered", async () => {
    // 30 Brazil, 20 India, 10 Germany, 5 Mexico (the card's "otherwise"), and 3 bad rows.
    const phones = [
      ...Array.from({ length: 30 }, (_, i) => `+55119${String(87_650_000 + i)}`),
      ...Array.from({ length: 20 }, (_, i) => `+9198${String(76_540_000 + i)}`),
      ...Array.from({ length: 10 }, (_, i) => `+49151${String(12_340_000 + i)}`),
      ...Array.from({ length: 5 }, (_, i) => `+5255${String(12_340_000 + i)}`),
      "+5511987650000",
      "not a number",
      "+1",
    ];
    await campaigns.create(definitionOf("mixed"));
    await audienceOf("mixed", phones);
    const before = await campaigns.forecast("mixed");
    expect(before?.basis).toBe("dry_run");
    expect(before?.forecast.recipients).toBe(65);
    expect(before?.forecast.lines.map((l) => [l.market, l.billable])).toEqual([
      ["Brazil", 30],
      ["Germany", 10],
      ["India", 20],
      ["Rest", 5],
    ]);

    await campaigns.start("mixed");
    await campaigns.tick();
    await campaigns.settle();
    for (let i = 0; i < 5 && ((await campaigns.progress("mixed"))?.queued ?? 1) > 0; i++)
      await campaigns.tick();
    await waitFor(
      () => published.filter((e) => e.data.metadata?.["campaignId"] === "mixed").length === 65,
      { timeoutMs: 60_000, description: "the 65 SendRequested read back" },
    );
    const after = await campaigns.forecast("mixed");
    expect(after?.basis).toBe("plan");
    expect(after?.forecast).toEqual(before?.forecast);

    // What the router and the sender publish for each send: accepted, sent, delivered with Meta's
    // pricing (regular utility: billed). Statuses of every other send first, some twice.
    const requests = published.filter((e) => e.data.metadata?.["campaignId"] === "mixed");
    const events = requests.flatMap((r) =>
      eventsOf(
        { campaignId: "mixed", contactId: r.data.contactId, requestId: r.correlationId },
        { kind: "delivered", read: false, pricingType: "regular", category: "utility" },
      ),
    );
    const statusesFirst = [
      ...events.filter((e, i) => e.type === "StatusUpdated" && i % 2 === 0),
      ...events,
      ...events.slice(0, 20),
    ];
    await publishEvents(statusesFirst);
    await waitFor(async () => (await campaigns.progress("mixed"))?.deliveries?.delivered === 65, {
      timeoutMs: 60_000,
      description: "65 delivered folded",
    });
    const progress = await campaigns.progress("mixed");
    expect(progress?.deliveries).toMatchObject({ sent: 65, delivered: 65, read: 0, failed: 0 });
    const cost = progress?.deliveries?.cost;
    expect(cost?.amount).toBe(before?.forecast.amount);
    expect(cost?.lines).toEqual(before?.forecast.lines);
    // The sum of each message's price equals both (30 x 0.0068 + 20 x 0.0014 + 10 x 0.0456 + 5 x 0.01).
    expect(cost?.amount).toBe(0.738);
    expect(progress?.forecast?.amount).toBe(0.738);
  }, 240_000);

  it("failures pause the campaign by the failure rate, not on the first failure; a hostile outcome is a dead letter with its reason", async () => {
    const phones = Array.from({ length: 60 }, (_, i) => `+34612${String(i).padStart(6, "0")}`);
    await campaigns.create(definitionOf("slow"));
    await audienceOf("slow", phones);
    await campaigns.start("slow");
    await campaigns.tick();
    await campaigns.settle();
    const contacts = phones.map((p) => {
      const id = parseContactId(p);
      if (!id.ok) throw new Error(p);
      return id.contactId;
    });
    const ref = (contactId: string) => ({
      campaignId: "slow",
      contactId,
      requestId: uuidV5Of(idempotencyKeyOf("slow", contactId)),
    });
    // Ten failures: under the minimum sample of settled sends, still running.
    await publishEvents(
      contacts
        .slice(0, 10)
        .flatMap((c) => eventsOf(ref(c), { kind: "failed_async", code: 131049 })),
    );
    await waitFor(async () => (await campaigns.progress("slow"))?.deliveries?.failed === 10, {
      timeoutMs: 60_000,
      description: "ten failures folded",
    });
    expect((await campaigns.progress("slow"))?.campaign.status).toBe("running");
    // A hostile outcome: a campaign key naming another contact.
    await publishEvents([
      createEvent(
        "SendAccepted",
        {
          requestId: "hostile",
          idempotencyKey: `campaign:slow:${contacts[0]}`,
          contactId: contacts[1] ?? "",
          wamid: "wamid.hostile",
          usedTemplateFallback: false,
          attempts: 1,
        },
        { correlationId: "hostile", now: new Date() },
      ),
    ]);
    // 30 delivered and 20 more failed: 30 of 60 settled failed, over 20 %.
    await publishEvents([
      ...contacts.slice(10, 40).flatMap((c) =>
        eventsOf(ref(c), {
          kind: "delivered",
          read: true,
          pricingType: "regular",
          category: "utility",
        }),
      ),
      ...contacts
        .slice(40, 60)
        .flatMap((c) => eventsOf(ref(c), { kind: "rejected", reason: "opted_out" })),
    ]);
    await waitFor(async () => (await campaigns.progress("slow"))?.campaign.status === "paused", {
      timeoutMs: 60_000,
      description: "paused by the failure rate",
    });
    const paused = await campaigns.progress("slow");
    expect(paused?.campaign.pausedBy?.reason).toBe("failure_rate");
    await waitFor(() => deadLetters.length >= 1, {
      timeoutMs: 60_000,
      description: "a dead letter",
    });
    expect(deadLetters).toEqual([expect.stringMatching(/not the outcome's contact/)]);
    await waitFor(async () => (await campaigns.progress("slow"))?.deliveries?.failed === 30, {
      timeoutMs: 60_000,
      description: "every failure folded",
    });
    expect((await campaigns.progress("slow"))?.deliveries).toMatchObject({
      sent: 30,
      delivered: 30,
      read: 30,
      failed: 30,
      failedByCode: { "131049": 10, "rejected:opted_out": 20 },
    });
  }, 240_000);

  it("the messaging limit counts ordinary sends outside a window, not those inside one", async () => {
    const base = await reached(new Date());
    const inWindow = "34699000001";
    const outside = ["34699000002", "34699000003"];
    await openWindow(inWindow, new Date(Date.now() + 3_600_000));
    const ordinary = (contactId: string, i: number) =>
      createEvent(
        "SendAccepted",
        {
          requestId: `orders-${contactId}-${i}`,
          idempotencyKey: `orders:${contactId}:${i}`,
          contactId,
          wamid: `wamid.orders-${contactId}-${i}`,
          usedTemplateFallback: false,
          attempts: 1,
        },
        { correlationId: `orders-${contactId}-${i}`, now: new Date() },
      );
    // Two sends to each contact: unique users count once.
    await publishEvents([inWindow, ...outside].flatMap((c) => [ordinary(c, 1), ordinary(c, 2)]));
    await waitFor(async () => (await reached(new Date())) === base + 2, {
      timeoutMs: 60_000,
      description: "two contacts reached outside a window",
    });
    // Nothing else comes: the contact inside the window is never counted.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await reached(new Date())).toBe(base + 2);
    // A day later they no longer count.
    expect(await reached(new Date(Date.now() + 86_400_000 + 60_000))).toBe(0);
  }, 120_000);

  it("the parley-campaigns CLI creates, uploads (streamed), forecasts, starts, watches, pauses, resumes and cancels against the real API", async () => {
    const definition = join(dir, "cli.json");
    await writeFile(definition, JSON.stringify({ ...definitionOf("cli"), id: "cli" }));
    const audience = join(dir, "cli.jsonl");
    const phones = [
      ...Array.from({ length: 300 }, (_, i) => `+55119${String(87_000_000 + i)}`),
      ...Array.from({ length: 100 }, (_, i) => `+9198${String(76_000_000 + i)}`),
    ];
    await writeFile(audience, phones.map((phone) => JSON.stringify({ phone })).join("\n"));

    expect((await cli(["create", definition])).out).toMatch(/created cli \(draft\)/);
    const upload = await cli(["upload", "cli", audience]);
    expect(upload.code).toBe(0);
    expect(upload.err).toMatch(/upload \[#{30}\] 100 %/);
    expect(upload.out).toMatch(/uploaded \d+ bytes to cli/);
    const forecast = await cli(["forecast", "cli"]);
    expect(forecast.out).toMatch(/400 recipients, utility/);
    // 300 x 0.0068 + 100 x 0.0014
    expect(forecast.out).toMatch(/total: 2\.18 USD for 400 billable/);
    expect((await cli(["start", "cli"])).out).toBe("cli: running\n");
    // --watch redraws until the campaign is done (each wait here is a release tick).
    const watched = await cli(["status", "cli", "--watch", "--interval", "0.01"]);
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/campaign cli: completed/);
    expect(watched.out).toMatch(/planned +400/);
    expect((await cli(["pause", "cli"])).err).toMatch(
      /409 Conflict: campaign cli is completed: cannot pause/,
    );

    // Errors that say what to do next.
    const refused = await cli(["status", "cli"], { PARLEY_CAMPAIGNS_TOKEN: "wrong-key-0123456" });
    expect(refused.code).toBe(77);
    expect(refused.err).toMatch(/check PARLEY_CAMPAIGNS_TOKEN/);
    const none = await cli(["status", "cli"], { PARLEY_CAMPAIGNS_TOKEN: "" });
    expect(none.code).toBe(78);
    const away = await cli(["status", "cli"], { PARLEY_CAMPAIGNS_URL: "http://127.0.0.1:9" });
    expect(away.code).toBe(69);
    expect(away.err).toMatch(/Set PARLEY_CAMPAIGNS_URL/);
    expect((await cli(["nonsense"])).code).toBe(64);
    expect((await cli(["status", "NOT AN ID"])).code).toBe(64);

    // Pause, resume and cancel on a draft and a running campaign.
    await writeFile(definition, JSON.stringify({ ...definitionOf("cli2"), id: "cli2" }));
    await cli(["create", definition]);
    await cli(["upload", "cli2", audience]);
    expect((await cli(["start", "cli2"])).out).toBe("cli2: running\n");
    expect((await cli(["pause", "cli2"])).out).toBe("cli2: paused\n");
    expect((await cli(["resume", "cli2"])).out).toBe("cli2: running\n");
    expect((await cli(["cancel", "cli2"])).out).toBe("cli2: cancelled\n");
  }, 120_000);
});
