import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metaJsonStringify, signWebhookBody } from "@parley/cloud-api";
import { createSimulator, type InboundContent, type Simulator } from "@parley/cloud-api-sim";
import { createCatalog, type Catalog, type EventOf } from "@parley/contracts";
import {
  createEventConsumer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type ConsumerRunner,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import {
  freePort,
  repoRoot,
  serviceEnv,
  startService,
  stopService,
  type ServiceProcess,
} from "@parley/e2e";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";

// The inbound path end to end, every part a real process or server: the simulator's users send
// messages -> signed webhook -> ingress (built, own process) -> raw-webhooks -> router (built, own
// process, MongoDB state) -> contact-keyed inbound-messages and statuses topics.
const SECRET = "e2e-inbound-app-secret";
const OPS_TOKEN = "e2e-inbound-ops-token";
const BUSINESS = ["106540352242911", "106540352242912", "106540352242913"] as const;

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let reader: ConsumerRunner | undefined;
let sim: Simulator | undefined;
const services: ServiceProcess[] = [];
let webhookUrl = "";
let routerOpsUrl = "";
const inbound: { key: string | null; event: EventOf<"InboundMessageReceived"> }[] = [];
const statuses: EventOf<"StatusUpdated">[] = [];

function start(name: "ingress" | "router", port: number, env: Record<string, string>): void {
  const settings = serviceEnv(
    stack,
    { database: ns.database(), topicPrefix: catalog.prefix, opsToken: OPS_TOKEN },
    { LOG_LEVEL: "warn", ...env },
  );
  services.push(
    startService(name, port, settings, join(repoRoot, ".parley", "e2e-inbound", ns.id)),
  );
}

/** Facts the router dropped as Meta's duplicates, from its metrics. */
async function routerDuplicates(): Promise<number> {
  const text = await (
    await fetch(`${routerOpsUrl}/metrics`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })
  ).text();
  return text
    .split("\n")
    .filter((l) => /^\w*router_inbound_facts_total\{.*outcome="duplicate"/.test(l))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

const ready = async (port: number): Promise<boolean> =>
  (
    await fetch(`http://127.0.0.1:${String(port)}/readyz`, {
      headers: { authorization: `Bearer ${OPS_TOKEN}` },
    }).catch(() => undefined)
  )?.status === 200;

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("inbound-path");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 2, raw: 3 } });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic("router-inbound"),
          catalog.deadLetterTopic("router-statuses"),
          catalog.deadLetterTopic("e2e-inbound-reader"),
        ],
      }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "e2e-inbound-reader",
    topics: [catalog.topic("inbound-messages"), catalog.topic("statuses")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      const event = record.value;
      if (event.type === "InboundMessageReceived") inbound.push({ key: record.key, event });
      else statuses.push(event);
      return Promise.resolve();
    },
  });
  await reader.start();

  const [ingressOps, routerOps, webhookPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  webhookUrl = `http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`;
  routerOpsUrl = `http://127.0.0.1:${String(routerOps)}`;
  start("router", routerOps, {});
  start("ingress", ingressOps, {
    WEBHOOK_PORT: String(webhookPort),
    WA_APP_SECRET: SECRET,
    WA_VERIFY_TOKEN: "e2e-inbound-verify",
  });
  await waitFor(async () => (await ready(ingressOps)) && (await ready(routerOps)), {
    timeoutMs: 120_000,
    description: "ingress and router ready",
  });

  sim = createSimulator({
    appSecret: SECRET,
    webhookUrls: [webhookUrl],
    // One POST at a time: each webhook is acknowledged before the next leaves, so the order in
    // which a user sent is the order on the raw topic, which the router must keep per contact.
    webhooks: { concurrency: 1, retryDelaysMs: [0, 250, 500, 1_000], retryTimeScale: 1 },
  });
});

afterAll(async () => {
  await sim?.stop();
  for (const service of services) await stopService(service);
  await reader?.stop();
  // The native MongoDB stand-in keeps everything in memory: drop the router's state.
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

describe("inbound path: simulator -> ingress -> raw topic -> router -> contact-keyed topics", () => {
  it("turns the simulator's users' messages of every kind into inbound events, in order per contact", async () => {
    if (sim === undefined) throw new Error("no simulator");
    const users = ["16505551001", "16505551002", "16505551003"];
    for (const [i, waId] of users.entries())
      sim.addUser({ waId, name: `Utilisateur ${String(i)} ✓` });
    const contents: InboundContent[] = [
      { type: "text", body: "Olá! Onde está o meu pedido nº 42? 📦" },
      { type: "image", mimeType: "image/jpeg", caption: "the receipt" },
      { type: "location", latitude: 38.7223, longitude: -9.1393, name: "Lisboa" },
      { type: "button_reply", id: "track", title: "Track order" },
      { type: "document", mimeType: "application/pdf", filename: "invoice.pdf" },
      { type: "text", body: "obrigado" },
    ];
    // Interleaved across users, as a business number sees them.
    const sent = new Map<string, { wamid: string; type: string }[]>();
    for (const content of contents) {
      for (const waId of users) {
        const { wamid } = sim.userSends(waId, content);
        sent.set(waId, [...(sent.get(waId) ?? []), { wamid, type: content.type }]);
      }
    }
    const expected = [...sent.values()].flat();
    await waitFor(
      () => {
        const seen = new Set(inbound.map((r) => r.event.data.wamid));
        return expected.every((m) => seen.has(m.wamid));
      },
      { timeoutMs: 60_000, description: `${String(expected.length)} inbound events` },
    );
    for (const waId of users) {
      const events = inbound.filter((r) => r.event.data.contactId === waId);
      // Keyed by the contact, once each, in the order the user sent them.
      expect(events.every((r) => r.key === waId)).toBe(true);
      expect(events.map((r) => r.event.data.wamid)).toEqual(sent.get(waId)?.map((m) => m.wamid));
      const typeOf = (t: string) => (t === "button_reply" ? "interactive" : t);
      expect(events.map((r) => r.event.data.message.type)).toEqual(
        sent.get(waId)?.map((m) => typeOf(m.type)),
      );
    }
    const outcomes = sim.webhookDeliveries().map((d) => d.outcome);
    expect(outcomes.filter((o) => o === 200)).toHaveLength(expected.length);
  });

  it("takes one POST of 1,000 updates for three business numbers and counts each update once", async () => {
    const run = Date.now().toString(36);
    const value = (phoneNumberId: string, n: number) => {
      const messages = [];
      const statusList = [];
      for (let i = 0; i < n; i++) {
        const from = `1650555${String(2000 + (i % 20)).padStart(4, "0")}`;
        if (i % 2 === 0) {
          messages.push({
            from,
            id: `wamid.batch.${run}.${phoneNumberId}.${String(i)}`,
            timestamp: String(Math.floor(Date.now() / 1000)),
            type: "text",
            text: { body: `message ${String(i)} — ünïcödé` },
          });
        } else {
          statusList.push({
            id: `wamid.out.${run}.${phoneNumberId}.${String(i)}`,
            status: "delivered",
            timestamp: String(Math.floor(Date.now() / 1000)),
            recipient_id: from,
          });
        }
      }
      return {
        messaging_product: "whatsapp",
        metadata: {
          display_phone_number: `1555000${phoneNumberId.slice(-4)}`,
          phone_number_id: phoneNumberId,
        },
        contacts: Array.from({ length: 20 }, (_, i) => ({
          profile: { name: `C${String(i)}` },
          wa_id: `1650555${String(2000 + i).padStart(4, "0")}`,
        })),
        messages,
        statuses: statusList,
      };
    };
    const perNumber = [334, 333, 333];
    const body = metaJsonStringify({
      object: "whatsapp_business_account",
      entry: BUSINESS.map((pnid, i) => ({
        id: `10229012934039${String(i)}`,
        changes: [{ field: "messages", value: value(pnid, perNumber[i] ?? 0) }],
      })),
    });
    const post = () =>
      fetch(webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": signWebhookBody(body, SECRET),
        },
        body,
      });
    expect((await post()).status).toBe(200);
    const batchMessages = () => inbound.filter((r) => r.event.data.wamid.includes(`.${run}.`));
    const batchStatuses = () => statuses.filter((e) => e.data.wamid.includes(`.${run}.`));
    const wanted = { messages: 167 + 167 + 167, statuses: 167 + 166 + 166 };
    await waitFor(
      () => batchMessages().length >= wanted.messages && batchStatuses().length >= wanted.statuses,
      { timeoutMs: 90_000, description: "1,000 updates as events" },
    );
    // Meta's retry of the same POST (a new delivery id at ingress): every update in it is dropped
    // as a duplicate (the router's own count), and no event is added.
    const before = { m: batchMessages().length, s: batchStatuses().length };
    const duplicates = await routerDuplicates();
    expect((await post()).status).toBe(200);
    await waitFor(async () => (await routerDuplicates()) - duplicates >= 1_000, {
      timeoutMs: 60_000,
      description: "the retried batch's 1,000 updates dropped as duplicates",
    });
    expect({ m: batchMessages().length, s: batchStatuses().length }).toEqual(before);
    const ids = batchMessages().map((r) => r.event.data.wamid);
    expect(new Set(ids).size).toBe(wanted.messages);
    expect(ids).toHaveLength(wanted.messages);
    const statusIds = batchStatuses().map((e) => `${e.data.wamid}:${e.data.status}`);
    expect(new Set(statusIds).size).toBe(wanted.statuses);
    expect(statusIds).toHaveLength(wanted.statuses);
    for (const pnid of BUSINESS) {
      expect(batchMessages().filter((r) => r.event.businessNumber === pnid).length).toBeGreaterThan(
        150,
      );
    }
    for (const r of batchMessages()) expect(r.key).toBe(r.event.data.contactId);
  });
});
