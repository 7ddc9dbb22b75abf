import { createSimulator, serveSimulator, type SimulatorServer } from "@parley/cloud-api-sim";
import {
  createCatalog,
  createEvent,
  type AnyEvent,
  type Catalog,
  type EventOf,
  type OutboundContent,
} from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type ConsumerRunner,
  type EventProducer,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import { createMongo, type MongoConnection } from "@parley/mongo";
import type { Component } from "@parley/runtime";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../config.js";
import { OUTBOUND_COLLECTION } from "../store/outbound-store.js";
import { CATALOG_COLLECTION } from "../store/template-catalog-store.js";
import { ROUTER_OUTBOUND_CONSUMER } from "./outbound-consumer.js";
import { startOutboundSide } from "./outbound-harness.int-helpers.js";
import { ROUTER_TEMPLATES_CONSUMER } from "./template-events-consumer.js";

// The router's outbound side on the real broker, registry and MongoDB, with the Cloud API
// simulator serving the Graph template list: send requests in, dispatch commands (keyed by the
// business number) or terminal outcomes (keyed by the contact) out; opt-outs, windows and
// template webhooks consumed from their topics; redeliveries after a restart emit nothing twice.

const WABA = "102290129340398";
const PN = "106540352242922";
const TOKEN = "router-outbound-test-token";
const READER = "router-outbound-reader";

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let mongo: MongoConnection;
let producer: EventProducer;
let reader: ConsumerRunner;
let graph: SimulatorServer;
const sim = createSimulator({
  accessTokens: [{ token: TOKEN }],
  businesses: [{ wabaId: WABA, phoneNumbers: [{ id: PN, displayPhoneNumber: "+1 650 555 0100" }] }],
});
const seen: { topic: string; key: string | null; event: AnyEvent }[] = [];
const cleanups: (() => Promise<void>)[] = [];
let contactSeq = 0;

/** A contact no other test touches. */
const newContact = () => String(16505550100 + contactSeq++);

async function startRouter(): Promise<{ stop(): Promise<void> }> {
  const config = configSchema.parse({
    KAFKA_BROKERS: stack.kafkaBrokers.join(","),
    SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
    MONGO_URL: stack.mongoUrl,
    MONGO_DB: ns.database(),
    PARLEY_TOPIC_PREFIX: catalog.prefix,
    OPS_TOKEN: "outbound-test-ops-token",
    PARLEY_NUMBERS: JSON.stringify({
      numbers: [{ phoneNumberId: PN, wabaId: WABA, aliases: ["support"], accessToken: TOKEN }],
    }),
    WA_GRAPH_BASE_URL: graph.url,
    ROUTER_MARKETING_CAP_COUNT: "1",
  });
  const components: Component[] = await startOutboundSide({ config, kafka, mongo, serde, catalog });
  return {
    async stop() {
      for (const c of [...components].reverse()) await c.stop();
    },
  };
}

async function publish(event: AnyEvent): Promise<void> {
  const topic = catalog.topicOf(event.type);
  await producer.publish(topic, [{ key: topic.keyOf(event), event }]);
}

function sendRequested(
  contactId: string,
  requestId: string,
  content: OutboundContent,
  {
    category = "utility",
    key = requestId,
  }: { category?: "utility" | "marketing" | "service"; key?: string } = {},
): EventOf<"SendRequested"> {
  return createEvent(
    "SendRequested",
    {
      contactId,
      idempotencyKey: key,
      recipient: { phone: `+${contactId}` },
      sender: { kind: "businessNumber", phoneNumberId: PN },
      content,
      category,
      requester: "orders",
    },
    { correlationId: requestId, now: new Date() },
  );
}

const orderUpdate = (order: string): OutboundContent => ({
  type: "template",
  template: {
    name: "order_update",
    language: { code: "en_US" },
    components: [
      {
        type: "body",
        parameters: [
          { type: "text", text: order },
          { type: "text", text: "shipped" },
        ],
      },
    ],
  },
});

const outputsOf = (requestId: string) =>
  seen.filter(
    (s) =>
      (s.event.type === "DispatchMessage" ||
        s.event.type === "SendRejected" ||
        s.event.type === "SendExpired" ||
        s.event.type === "SendDeduplicated") &&
      s.event.correlationId === requestId,
  );

async function outputOf(requestId: string) {
  await waitFor(() => outputsOf(requestId).length > 0, {
    timeoutMs: 30_000,
    description: `an output for ${requestId}`,
  });
  const [first] = outputsOf(requestId);
  if (first === undefined) throw new Error("unreachable");
  return first;
}

/** Waits until the router has recorded what it consumed about a contact. */
async function stateOf(contactId: string, ready: (doc: Record<string, unknown>) => boolean) {
  await waitFor(
    async () => {
      const doc = await mongo.db
        .collection(OUTBOUND_COLLECTION)
        .findOne({ _id: contactId as never });
      return doc !== null && ready(doc);
    },
    { timeoutMs: 30_000, description: `router state of a contact` },
  );
}

let router: { stop(): Promise<void> };

/** Waits until the router's group has committed every record of its input topics. */
async function caughtUp(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        for (const id of ["send-requests", "consent", "conversation-windows"] as const) {
          const topic = catalog.topic(id).name;
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({
            groupId: `${catalog.prefix}parley.${ROUTER_OUTBOUND_CONSUMER}`,
            topics: [topic],
          });
          for (const end of ends) {
            const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset;
            if (end.high !== "0" && at !== end.high) return false;
          }
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: "the router caught up" },
    );
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  stack = await startStack();
  cleanups.push(() => stack.stop());
  ns = stack.namespace("router-outbound");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 2, raw: 2 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic(ROUTER_OUTBOUND_CONSUMER),
          catalog.deadLetterTopic(ROUTER_TEMPLATES_CONSUMER),
          catalog.deadLetterTopic(READER),
        ],
      }).then(() => true),
    { timeoutMs: 60_000, intervalMs: 500, description: "topics provisioned" },
  );
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  cleanups.push(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });
  sim.addTemplate({
    wabaId: WABA,
    name: "order_update",
    language: "en_US",
    body: "Order {{1}} is {{2}}.",
  });
  sim.addTemplate({
    wabaId: WABA,
    name: "spring_sale",
    language: "en_US",
    category: "MARKETING",
    body: "Spring sale: {{1}}",
  });
  graph = await serveSimulator(sim, { port: 0 });
  cleanups.push(() => graph.close());
  producer = createEventProducer({ kafka, serde, name: "test producer" });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: READER,
    topics: [catalog.topic("dispatch"), catalog.topic("send-outcomes")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      seen.push({ topic: record.topic, key: record.key, event: record.value });
      return Promise.resolve();
    },
  });
  await reader.start();
  cleanups.push(() => reader.stop());
  router = await startRouter();
  cleanups.push(() => router.stop());
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 60_000);

describe("router outbound on Kafka, the registry, MongoDB and the simulated Graph", () => {
  it("dispatches a template send keyed by the business number, with the catalog synced from Graph", async () => {
    const contact = newContact();
    await publish(sendRequested(contact, "req-template-1", orderUpdate("A-1")));
    const out = await outputOf("req-template-1");
    expect(out.topic).toBe(catalog.topic("dispatch").name);
    expect(out.key).toBe(PN);
    expect(out.event).toMatchObject({
      type: "DispatchMessage",
      businessNumber: PN,
      data: {
        requestId: "req-template-1",
        to: `+${contact}`,
        toKind: "phone",
        bizOpaqueCallbackData: "req-template-1",
        usedTemplateFallback: false,
        category: "utility",
      },
    });
    const stored = await mongo.db.collection(CATALOG_COLLECTION).findOne({ _id: WABA as never });
    expect(stored?.["templates"]).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "order_update", status: "APPROVED" }),
      ]),
    );
  });

  it("sends free-form inside a consumed window, and rejects it with the window closed", async () => {
    const contact = newContact();
    await publish(
      sendRequested(
        contact,
        "req-closed",
        { type: "text", text: { body: "hi" } },
        { category: "service" },
      ),
    );
    const closed = await outputOf("req-closed");
    expect(closed.topic).toBe(catalog.topic("send-outcomes").name);
    expect(closed.key).toBe(contact);
    expect(closed.event).toMatchObject({
      type: "SendRejected",
      data: { reason: "outside_window", detail: expect.stringContaining("closed") as unknown },
    });

    await publish(
      createEvent(
        "ConversationWindowOpened",
        {
          contactId: contact,
          openedBy: "wamid.in-1",
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          freeEntryPoint: false,
        },
        { correlationId: "d-1", businessNumber: PN, now: new Date() },
      ),
    );
    await stateOf(contact, (doc) => Array.isArray(doc["windows"]) && doc["windows"].length === 1);
    await publish(
      sendRequested(
        contact,
        "req-open",
        { type: "text", text: { body: "hi" } },
        { category: "service" },
      ),
    );
    expect((await outputOf("req-open")).event.type).toBe("DispatchMessage");
  });

  it("rejects unknown templates and unapproved ones, and marketing without an opt-in", async () => {
    const contact = newContact();
    await publish(
      sendRequested(contact, "req-unknown", {
        type: "template",
        template: { name: "no_such_template", language: { code: "en_US" } },
      }),
    );
    expect((await outputOf("req-unknown")).event).toMatchObject({
      type: "SendRejected",
      data: { reason: "template_not_approved" },
    });
    await publish(
      sendRequested(
        contact,
        "req-marketing",
        {
          type: "template",
          template: {
            name: "spring_sale",
            language: { code: "en_US" },
            components: [{ type: "body", parameters: [{ type: "text", text: "20% off" }] }],
          },
        },
        { category: "marketing" },
      ),
    );
    expect((await outputOf("req-marketing")).event).toMatchObject({
      type: "SendRejected",
      data: { reason: "no_consent" },
    });
  });

  it("stops a request for a contact whose opt-out was consumed before it, naming the consent event", async () => {
    const contact = newContact();
    const stop = createEvent(
      "ConsentRevoked",
      { contactId: contact, scope: "all", channel: "whatsapp", source: "keyword" },
      { correlationId: "d-2", businessNumber: PN, now: new Date() },
    );
    await publish(stop);
    await stateOf(contact, (doc) => Array.isArray(doc["consent"]) && doc["consent"].length === 1);
    await publish(sendRequested(contact, "req-after-stop", orderUpdate("A-2")));
    expect((await outputOf("req-after-stop")).event).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out", detail: expect.stringContaining(stop.eventId) as unknown },
    });
  });

  it("refreshes the catalog on a template status webhook: a paused template is refused", async () => {
    const contact = newContact();
    await publish(sendRequested(contact, "req-before-pause", orderUpdate("B-1")));
    expect((await outputOf("req-before-pause")).event.type).toBe("DispatchMessage");

    sim.setTemplateStatus("order_update", "en_US", "PAUSED", WABA);
    await publish(
      createEvent(
        "TemplateStatusUpdated",
        {
          wabaId: WABA,
          deliveryId: "d-3",
          templateId: "1",
          templateName: "order_update",
          language: "en_US",
          event: "PAUSED",
        },
        { correlationId: "d-3", now: new Date() },
      ),
    );
    await waitFor(
      async () => {
        const doc = await mongo.db.collection(CATALOG_COLLECTION).findOne({ _id: WABA as never });
        const templates = (doc?.["templates"] ?? []) as { name: string; status: string }[];
        return templates.some((t) => t.name === "order_update" && t.status === "PAUSED");
      },
      { timeoutMs: 30_000, description: "the catalog shows the pause" },
    );
    // Past the memory cache's trust period, every instance reads the refreshed catalog.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    await publish(sendRequested(contact, "req-after-pause", orderUpdate("B-2")));
    expect((await outputOf("req-after-pause")).event).toMatchObject({
      type: "SendRejected",
      data: {
        reason: "template_not_approved",
        detail: expect.stringContaining("PAUSED") as unknown,
      },
    });
    sim.setTemplateStatus("order_update", "en_US", "APPROVED", WABA);
  });

  it("waits out a first catalog sync Graph refuses (an outage, retried by the runner without bound), then dispatches once; nothing is dead-lettered", async () => {
    // No catalog anywhere, and Graph refusing the token: the template cannot be checked yet.
    await router.stop();
    await mongo.db.collection(CATALOG_COLLECTION).deleteMany({});
    sim.revokeAccessToken(TOKEN);
    router = await startRouter();
    const contact = newContact();
    await publish(sendRequested(contact, "req-graph-down", orderUpdate("G-1")));
    // Past the runner's bounded attempts (5 tries, 0.2 s doubling): an error that only said
    // "retriable" would have been dead-lettered by now.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(outputsOf("req-graph-down")).toEqual([]);
    sim.grantAccessToken({ token: TOKEN });
    expect((await outputOf("req-graph-down")).event.type).toBe("DispatchMessage");
    await caughtUp();
    expect(outputsOf("req-graph-down")).toHaveLength(1);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const dlq = await admin.fetchTopicOffsets(
        catalog.deadLetterTopic(ROUTER_OUTBOUND_CONSUMER).name,
      );
      expect(dlq.map((p) => p.high)).toEqual(dlq.map(() => "0"));
    } finally {
      await admin.disconnect();
    }
  }, 90_000);

  it("emits nothing twice for redeliveries, repeated keys, or every record consumed again after a restart", async () => {
    const contact = newContact();
    const first = sendRequested(contact, "req-once", orderUpdate("C-1"));
    // The previous test left the template approved in Graph but paused in the router's catalog:
    // start from a catalog synced afresh.
    await router.stop();
    await mongo.db.collection(CATALOG_COLLECTION).deleteMany({});
    router = await startRouter();
    await publish(first);
    await publish(first); // a producer retry: the same record twice
    await publish(sendRequested(contact, "req-same-key", orderUpdate("C-1"), { key: "req-once" }));
    await outputOf("req-once");
    await caughtUp();

    // Stop, rewind the router's group to the start of every topic, start again: every send
    // request, consent and window record of this spec is consumed a second time.
    await router.stop();
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The stopped member may linger until its session times out: retry until the group is empty.
      await waitFor(
        async () => {
          try {
            for (const id of ["send-requests", "consent", "conversation-windows"] as const) {
              await admin.resetOffsets({
                groupId: `${catalog.prefix}parley.${ROUTER_OUTBOUND_CONSUMER}`,
                topic: catalog.topic(id).name,
                earliest: true,
              });
            }
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 60_000, intervalMs: 1_000, description: "the router's group rewound" },
      );
    } finally {
      await admin.disconnect();
    }
    const before = seen.length;
    router = await startRouter();
    await caughtUp();
    // Anything re-emitted would have been published before the offsets moved past its record;
    // give the reader a moment to see it.
    await publish(sendRequested(newContact(), "req-marker", orderUpdate("M-1")));
    await outputOf("req-marker");
    const again = seen.slice(before).filter((s) => s.event.correlationId !== "req-marker");
    expect(again).toEqual([]);
    expect(outputsOf("req-once")).toHaveLength(1);
    // The repeated key gets its one terminal outcome naming the first request; nothing is sent.
    const repeat = outputsOf("req-same-key");
    expect(repeat.map((s) => s.event.type)).toEqual(["SendDeduplicated"]);
    expect(repeat[0]?.event.data).toMatchObject({ originalRequestId: "req-once" });
    for (const id of [
      "req-template-1",
      "req-closed",
      "req-open",
      "req-after-stop",
      "req-before-pause",
      "req-after-pause",
    ]) {
      expect(outputsOf(id), id).toHaveLength(1);
    }
  }, 120_000);
});
