import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createEvent, exampleData, type AnyEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAudienceFiles } from "./adapters/file/audience-files.js";
import { createProjectionAudience } from "./adapters/projection/audience-client.js";
import { CONTACTS_CONSUMER, createContactsConsumer } from "./adapters/kafka/contacts-consumer.js";
import {
  CONTACTS,
  createMongoFactsReader,
  createMongoPlanStore,
  plannedGroupsOf,
  RECIPIENTS,
  type RecipientDoc,
  skipsOf,
} from "./adapters/store/plan-store.js";
import { campaignDefinition } from "./domain/campaign.js";
import { uuidV5Of } from "./planning/ids.js";
import type { PlanStore } from "./planning/ports.js";
import { runPlan } from "./planning/run-plan.js";
import { startCampaignsInt } from "./int-harness.spec-helpers.js";

// A query audience end to end on real Kafka, registry and MongoDB: contacts' consent and inbound
// messages published, projected by the real projection (its built process) into its contacts
// read model, read by the campaigns service through the projection's GET /v1/audience with its
// own key (scope query:pii) a page at a time, and planned through a planner crash exactly as
// file rows are: the planned set equals the contacts the query describes, and a wider query
// shows the same exclusions and report as a file would.

const PROJECTION_MAIN = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../projection/dist/main.js",
);
const KEY = "campaigns-int-projection-key";
const sha = (k: string) => createHash("sha256").update(k, "utf8").digest("hex");
const NOW = Date.now();
const DAY = 86_400_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Contact i: its number (Brazil, India, Germany, US in turn), consent and last inbound. */
const N = 240;
const codes = ["55", "91", "49", "1"] as const;
const phoneOf = (i: number) =>
  `${codes[i % 4] ?? ""}${["119870", "98765", "15123", "20255"][i % 4] ?? ""}${String(i).padStart(5, "0")}`;
const consentOf = (i: number): "granted" | "revoked" | "none" =>
  i % 5 === 0 ? "revoked" : i % 7 === 0 ? "none" : "granted";
/** Days since the last inbound message, or none. */
const inboundDaysAgo = (i: number): number | undefined => (i % 3 === 0 ? undefined : (i * 7) % 61);
/** Came from a Click-to-WhatsApp ad 12 h ago: inside a free-entry-point window now. */
const fromAd = (i: number) => i % 6 === 1;

const freePort = () =>
  new Promise<number>((done, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => {
        done(port);
      });
    });
  });

describe("a query audience over the projection's contacts, planned", () => {
  let ctx: Awaited<ReturnType<typeof setUp>>;
  beforeAll(async () => {
    ctx = await setUp();
  }, 240_000);

  it("plans exactly the contacts the query describes, through a crash; a wider query is excluded row by row as a file is", async () => {
    const { db, dir, url } = ctx;
    const query = createProjectionAudience({ url, token: KEY, pageSize: 37 });
    const audiences = createAudienceFiles({ dir, query });
    const at = new Date(NOW).toISOString();
    const save = (id: string, doc: object) =>
      audiences.save(
        id,
        (async function* () {
          yield await Promise.resolve(Buffer.from(JSON.stringify({ ...doc, at })));
        })(),
        65_536,
      );
    const campaign = campaignDefinition.parse({
      id: "int-query",
      owner: "marketing",
      template: { name: "flash_sale", language: { code: "en" } },
      category: "marketing",
      bodyParameters: ["first_name"],
      numbers: ["400001", "400002"],
      schedule: { startAt: "2026-01-01T00:00:00.000Z" },
    });
    const numbers = [
      { phoneNumberId: "400001", mps: 60 },
      { phoneNumberId: "400002", mps: 20 },
    ];
    const { ref } = await save(campaign.id, {
      marketing: "granted",
      callingCodes: ["55", "91"],
      lastInboundWithinDays: 30,
      params: { first_name: "friend" },
    });
    const store = createMongoPlanStore({ db });
    let chunks = 0;
    const crashing: PlanStore = {
      ...store,
      record: async (id, decisions, now) => {
        await store.record(id, decisions, now);
        if (++chunks === 2) throw new Error("planner killed after its 2nd chunk's writes");
      },
    };
    const options = {
      campaign,
      numbers,
      limitBudget: Number.POSITIVE_INFINITY,
      audience: () => audiences.rows(ref, "query"),
      facts: createMongoFactsReader({ db }),
      requestIdOf: uuidV5Of,
      clock: () => new Date(),
      chunkSize: 20,
    };
    await expect(runPlan({ ...options, store: crashing })).rejects.toThrow(/killed/);
    const plan = await runPlan({ ...options, store });
    expect(plan.complete).toBe(true);

    const expected = new Set<string>();
    const free = new Set<string>();
    for (let i = 0; i < N; i++) {
      const d = inboundDaysAgo(i);
      if (i % 4 > 1 || consentOf(i) !== "granted" || d === undefined || d >= 30) continue;
      expected.add(phoneOf(i));
      if (fromAd(i)) free.add(phoneOf(i));
    }
    expect(expected.size).toBeGreaterThan(20);
    const planned = await db
      .collection(RECIPIENTS)
      .find({ campaignId: campaign.id }, { projection: { contactId: 1 } })
      .toArray();
    expect(new Set(planned.map((p) => p["contactId"] as string))).toEqual(expected);
    expect(planned).toHaveLength(expected.size);
    expect(plan.counters.planned).toBe(expected.size);
    expect(plan.counters.skipped).toEqual({});
    // Recipients inside a free-entry-point window (folded from ConversationWindowOpened by the
    // real contacts consumer) are planned as such: the forecast prices them free.
    const fep = await db
      .collection(RECIPIENTS)
      .find({ campaignId: campaign.id, freeEntryPoint: true }, { projection: { contactId: 1 } })
      .toArray();
    expect(free.size).toBeGreaterThan(0);
    expect(new Set(fep.map((p) => p["contactId"] as string))).toEqual(free);
    const groups = await plannedGroupsOf(db, campaign.id);
    expect(groups.filter((g) => g.freeEntryPoint).reduce((n, g) => n + g.n, 0)).toBe(free.size);

    // Per-recipient parameters: the same query, each member's first_name from the WhatsApp
    // profile name the projection folded from their inbound messages (`C<i>`), not a constant.
    const named = campaignDefinition.parse({ ...campaign, id: "int-query-names" });
    const namedRef = await save(named.id, {
      marketing: "granted",
      callingCodes: ["55", "91"],
      lastInboundWithinDays: 30,
      paramsFrom: { first_name: "profileName" },
    });
    const namedPlan = await runPlan({
      ...options,
      campaign: named,
      audience: () => audiences.rows(namedRef.ref, "query"),
      store,
    });
    expect(namedPlan.counters.planned).toBe(expected.size);
    const sends = await db
      .collection<RecipientDoc>(RECIPIENTS)
      .find({ campaignId: named.id })
      .toArray();
    const nameOf = new Map(Array.from({ length: N }, (_, i) => [phoneOf(i), `C${String(i)}`]));
    expect(sends).toHaveLength(expected.size);
    for (const s of sends) expect(s.params).toEqual([nameOf.get(s.contactId)]);

    // Wider: every contact with an inbound within 60 days, any consent, any country. The planner
    // excludes as for a file: US numbers (marketing), opted out, never opted in.
    const wide = campaignDefinition.parse({ ...campaign, id: "int-query-wide" });
    const wideRef = await save(wide.id, {
      lastInboundWithinDays: 60,
      params: { first_name: "friend" },
    });
    const widePlan = await runPlan({
      ...options,
      campaign: wide,
      audience: () => audiences.rows(wideRef.ref, "query"),
      store,
    });
    const want = { planned: 0, us: 0, optedOut: 0, noConsent: 0 };
    for (let i = 0; i < N; i++) {
      const d = inboundDaysAgo(i);
      if (d === undefined || d >= 60) continue;
      if (i % 4 === 3) want.us++;
      else if (consentOf(i) === "revoked") want.optedOut++;
      else if (consentOf(i) === "none") want.noConsent++;
      else want.planned++;
    }
    expect(widePlan.counters.planned).toBe(want.planned);
    expect(widePlan.counters.skipped).toEqual({
      us_marketing_blocked: want.us,
      opted_out: want.optedOut,
      no_consent: want.noConsent,
    });
    const skips = await skipsOf(db, wide.id, { limit: 1_000 });
    expect(skips).toHaveLength(want.us + want.optedOut + want.noConsent);
  }, 240_000);

  it("a key without query:pii is refused for good, not retried", async () => {
    const refused = createProjectionAudience({ url: ctx.url, token: "campaigns-int-read-only" });
    const rows = refused({ at: new Date(NOW).toISOString() });
    await expect(rows.next()).rejects.toThrow(/refused the audience query \(403\)/);
  });
});

async function setUp() {
  if (!existsSync(PROJECTION_MAIN))
    throw new Error(`build first (pnpm exec tsc -b): ${PROJECTION_MAIN} is missing`);
  const { stack, ns, catalog, kafka, serde, mongo, producer, dir } = await startCampaignsInt(
    "campaudience",
    (catalog) => [
      ...catalog.topics,
      catalog.deadLetterTopic(CONTACTS_CONSUMER),
      catalog.deadLetterTopic("projection"),
    ],
    cleanups,
  );
  const database = ns.database();

  const consent: AnyEvent[] = [];
  const inbound: AnyEvent[] = [];
  for (let i = 0; i < N; i++) {
    const contactId = phoneOf(i);
    const c = consentOf(i);
    if (c !== "none") {
      const type = c === "granted" ? "ConsentGranted" : "ConsentRevoked";
      consent.push(
        createEvent(
          type,
          { ...exampleData[type], contactId, scope: "marketing" },
          { correlationId: `c-${String(i)}`, now: new Date(NOW - 90 * DAY) },
        ),
      );
    }
    const d = inboundDaysAgo(i);
    if (d !== undefined) {
      inbound.push(
        createEvent(
          "InboundMessageReceived",
          {
            contactId,
            wamid: `wamid.in-${String(i)}`,
            contact: { waId: contactId, profileName: `C${String(i)}` },
            origin: exampleData.InboundMessageReceived.origin,
            message: { type: "text", text: { body: "hi" } },
          },
          { correlationId: `in-${String(i)}`, now: new Date(NOW - d * DAY - 3_600_000) },
        ),
      );
    }
  }
  await producer.publish(
    catalog.topic("consent"),
    consent.map((event) => ({ key: (event.data as { contactId: string }).contactId, event })),
  );
  const windows = Array.from({ length: N }, (_, i) => i)
    .filter(fromAd)
    .map((i) =>
      createEvent(
        "ConversationWindowOpened",
        {
          contactId: phoneOf(i),
          openedBy: `wamid.ad-${String(i)}`,
          expiresAt: new Date(NOW + 12 * 3_600_000).toISOString(),
          freeEntryPoint: true,
        },
        { correlationId: `w-${String(i)}`, now: new Date(NOW - 12 * 3_600_000) },
      ),
    );
  await producer.publish(
    catalog.topic("conversation-windows"),
    windows.map((event) => ({ key: event.data.contactId, event })),
  );
  await producer.publish(
    catalog.topic("inbound-messages"),
    inbound.map((event) => ({ key: (event.data as { contactId: string }).contactId, event })),
  );

  // The campaigns service's own facts (consent), folded by its real consumer.
  const contacts = createContactsConsumer({ kafka, serde, catalog, db: mongo.db });
  await contacts.start();
  cleanups.push(() => contacts.stop());

  // The projection as its own process on the same servers and namespace.
  const [opsPort, apiPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, [PROJECTION_MAIN], {
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MONGO_URL: stack.mongoUrl,
      MONGO_DB: database,
      PARLEY_TOPIC_PREFIX: `${ns.id}.`,
      OPS_TOKEN: "campaigns-int-ops-token",
      HTTP_PORT: String(opsPort),
      HTTP_HOST: "127.0.0.1",
      PROJECTION_API_PORT: String(apiPort),
      PROJECTION_API_KEYS: JSON.stringify([
        { id: "campaigns", keySha256: sha(KEY), scopes: ["read", "pii"] },
        { id: "viewer", keySha256: sha("campaigns-int-read-only"), role: "viewer" },
      ]),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  cleanups.push(async () => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  });
  const url = `http://127.0.0.1:${String(apiPort)}`;

  // Projected: every contact with an inbound in the read model, and campaigns' facts folded.
  // (Each inbound lands a day count and an hour back: "within 30 days" excludes day 30.)
  const withInbound = inbound.length;
  await waitFor(
    async () => {
      let n = 0;
      for await (const _row of createProjectionAudience({ url, token: KEY, attempts: 1 })({
        at: new Date(NOW).toISOString(),
        lastInboundWithinDays: 3_650,
      }))
        n++;
      return n === withInbound;
    },
    { timeoutMs: 180_000, intervalMs: 1_000, description: "contacts projected" },
  );
  // How far the fold got, named if it never gets there (a count short or over).
  let folded = { consent: 0, windows: 0 };
  await waitFor(
    async () => {
      folded = {
        consent: await mongo.db
          .collection(CONTACTS)
          .countDocuments({ marketing: { $exists: true } }),
        windows: await mongo.db
          .collection(CONTACTS)
          .countDocuments({ freeEntryPointUntil: { $exists: true } }),
      };
      return folded.consent === consent.length && folded.windows === windows.length;
    },
    {
      timeoutMs: 180_000,
      description: "consent and windows folded into campaign_contacts",
    },
  ).catch((error: unknown) => {
    throw new Error(
      `${String(error)}: consent ${String(folded.consent)} of ${String(consent.length)}, windows ${String(folded.windows)} of ${String(windows.length)}`,
    );
  });
  return { db: mongo.db, dir, url };
}
