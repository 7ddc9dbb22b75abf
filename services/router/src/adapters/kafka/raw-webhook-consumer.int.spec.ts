import {
  createCatalog,
  createEvent,
  headerNames,
  type AnyEvent,
  type Catalog,
  type EventOf,
} from "@parley/contracts";
import {
  createConsumerRunner,
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  redrive,
  type ConsumerRunner,
  type EventProducer,
  type KafkaClient,
  type RawRecord,
  type Serde,
  createCatalogPublisher,
} from "@parley/kafka";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventIdOf } from "../../inbound/event-id.js";
import { createInboundHandler } from "../../inbound/handler.js";
import { createKeywordMatcher, defaultKeywords } from "../../inbound/keywords.js";
import {
  parseWebhook,
  UnparseableWebhookError,
  type ParsedWebhook,
  type ParseInput,
} from "../../inbound/parse.js";
import { createContactStore } from "../store/contact-store.js";
import { createRawWebhookConsumer, ROUTER_INBOUND_CONSUMER } from "./raw-webhook-consumer.js";

// The router's inbound side on the real broker, registry and MongoDB: raw webhooks in, contact-
// keyed events out in per-contact order, Meta's duplicates dropped, unparseable payloads dead-
// lettered with their coordinates and re-driven after a fix, dedupe state surviving a restart.

const WABA = "102290129340398";
const PN1 = "106540352242922";
const PN2 = "106540352242933";
const READER = "router-inbound-reader";

let stack: Stack;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let mongo: MongoConnection;
let rawProducer: EventProducer;
let reader: ConsumerRunner;
let deadLetterReader: ConsumerRunner;
const seen: { topic: string; partition: number; key: string | null; event: AnyEvent }[] = [];
const deadLetters: RawRecord[] = [];
const cleanups: (() => Promise<void>)[] = [];

interface Router {
  stop(): Promise<void>;
}

async function startRouter(parse?: (input: ParseInput) => ParsedWebhook): Promise<Router> {
  const producer = createEventProducer({ kafka, serde, name: "router-inbound producer" });
  await producer.connect();
  const clock = () => new Date();
  const handler = createInboundHandler({
    store: createContactStore({ db: mongo.db }),
    publish: createCatalogPublisher(producer, catalog),
    clock,
    decideWith: {
      windowMs: 24 * 3_600_000,
      matchKeyword: createKeywordMatcher(defaultKeywords),
      eventIdOf,
    },
    limits: { maxIds: 500, ttlMs: 8 * 24 * 3_600_000 },
  });
  const consumer = createRawWebhookConsumer({
    kafka,
    serde,
    catalog,
    handler,
    clock,
    ...(parse ? { parse } : {}),
    tuning: {
      fromBeginning: true,
      commitIntervalMs: 50,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 500 },
    },
  });
  await consumer.start();
  return {
    async stop() {
      await consumer.stop();
      await producer.disconnect();
    },
  };
}

const nowSec = () => Math.floor(Date.now() / 1000);

function textWebhook(
  pnid: string,
  messages: readonly { from: string; id: string; body: string }[],
) {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: WABA,
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: pnid },
              contacts: [...new Set(messages.map((m) => m.from))].map((wa) => ({
                profile: { name: `user ${wa}` },
                wa_id: wa,
              })),
              messages: messages.map((m) => ({
                from: m.from,
                id: m.id,
                timestamp: String(nowSec()),
                type: "text",
                text: { body: m.body },
              })),
            },
          },
        ],
      },
    ],
  };
}

let deliveries = 0;
/** Appends a webhook body to the raw topic as ingress would (one delivery id per POST). */
async function deliver(pnid: string, body: string | object): Promise<void> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const bytes = Buffer.from(text, "utf8");
  const deliveryId = `delivery-${++deliveries}`;
  const raw: EventOf<"RawWebhookReceived"> = createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: bytes.toString("base64"),
      signature: "sha256=not-checked-here",
      contentType: "application/json",
      sizeBytes: bytes.length,
      phoneNumberIds: [pnid],
      wabaIds: [WABA],
    },
    { correlationId: deliveryId, now: new Date() },
  );
  const topic = catalog.topic("raw-webhooks");
  await rawProducer.publish(topic, [{ key: topic.keyOf(raw), event: raw }]);
}

const inboundOf = (contactId: string) =>
  seen.filter(
    (s): s is typeof s & { event: EventOf<"InboundMessageReceived"> } =>
      s.event.type === "InboundMessageReceived" && s.event.data.contactId === contactId,
  );
const wamidsOf = (contactId: string) => inboundOf(contactId).map((s) => s.event.data.wamid);
const hasWamid = (contactId: string, wamid: string) => wamidsOf(contactId).includes(wamid);

beforeAll(async () => {
  stack = await startStack();
  cleanups.push(() => stack.stop());
  const ns = stack.namespace("router-inbound");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 2, raw: 2 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  // Creating many topics at once can outlast kafkajs's leader wait on a busy broker; provisioning
  // is idempotent, so it is simply tried again.
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER),
          catalog.deadLetterTopic(READER),
          catalog.deadLetterTopic(`${READER}-dlq`),
        ],
      }).then(() => true),
    { timeoutMs: 60_000, intervalMs: 500, description: "topics provisioned" },
  );
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  cleanups.push(async () => {
    // The native MongoDB stand-in keeps everything in memory: leave nothing behind.
    await mongo.db.dropDatabase();
    await mongo.close();
  });
  rawProducer = createEventProducer({ kafka, serde, name: "test raw producer" });
  await rawProducer.connect();
  cleanups.push(() => rawProducer.disconnect());
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: READER,
    topics: (
      [
        "inbound-messages",
        "statuses",
        "consent",
        "conversation-windows",
        "business-events",
      ] as const
    ).map((id) => catalog.topic(id)),
    tuning: { fromBeginning: true },
    handle: (record) => {
      seen.push({
        topic: record.topic,
        partition: record.partition,
        key: record.key,
        event: record.value,
      });
      return Promise.resolve();
    },
  });
  await reader.start();
  cleanups.push(() => reader.stop());
  deadLetterReader = createConsumerRunner<RawRecord>({
    kafka,
    groupId: ns.group("dlq-reader"),
    topics: [catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER).name],
    deadLetterTopic: catalog.deadLetterTopic(`${READER}-dlq`).name,
    fromBeginning: true,
    decode: (record) => record,
    handle: (record) => {
      deadLetters.push(record.value);
      return Promise.resolve();
    },
  });
  await deadLetterReader.start();
  cleanups.push(() => deadLetterReader.stop());
});

afterAll(async () => {
  // In reverse order of creation; only what beforeAll got to create.
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("router inbound on Kafka", () => {
  it("publishes inbound events on contact-keyed topics in per-contact order, with windows and consent", async () => {
    const router = await startRouter();
    try {
      const contacts = ["16505550001", "16505550002", "16505550003"];
      // Each contact writes to one business number, one message per POST, interleaved.
      for (let i = 0; i < 10; i++) {
        for (const [c, contact] of contacts.entries()) {
          await deliver(
            c === 2 ? PN2 : PN1,
            textWebhook(c === 2 ? PN2 : PN1, [
              {
                from: contact,
                id: `wamid.order.${contact}.${i}`,
                body: i === 9 && c === 0 ? "STOP" : `m${i}`,
              },
            ]),
          );
        }
      }
      await waitFor(() => contacts.every((c) => inboundOf(c).length === 10), { timeoutMs: 30_000 });
      for (const contact of contacts) {
        const records = inboundOf(contact);
        expect(records.map((r) => r.event.data.wamid)).toEqual(
          Array.from({ length: 10 }, (_, i) => `wamid.order.${contact}.${i}`),
        );
        expect(new Set(records.map((r) => r.key))).toEqual(new Set([contact]));
        expect(new Set(records.map((r) => r.partition)).size).toBe(1);
      }
      await waitFor(
        () =>
          seen.some(
            (s) => s.event.type === "ConsentRevoked" && s.event.data.contactId === contacts[0],
          ),
        { timeoutMs: 10_000 },
      );
      const windowTypesOf = (contact: string) =>
        seen
          .filter(
            (s) => s.key === contact && s.topic === catalog.topic("conversation-windows").name,
          )
          .map((s) => s.event.type);
      await waitFor(() => windowTypesOf(contacts[1] ?? "").length > 0, { timeoutMs: 10_000 });
      const windowTypes = windowTypesOf(contacts[1] ?? "");
      expect(windowTypes[0]).toBe("ConversationWindowOpened");
      expect(windowTypes.slice(1).every((t) => t === "ConversationWindowExtended")).toBe(true);
    } finally {
      await router.stop();
    }
  });

  it("drops Meta's duplicate deliveries: the same webhook twice yields its events once", async () => {
    const router = await startRouter();
    try {
      const contact = "16505550010";
      const batch = textWebhook(PN1, [
        { from: contact, id: "wamid.dup.1", body: "one" },
        { from: contact, id: "wamid.dup.2", body: "two" },
      ]);
      await deliver(PN1, batch);
      await deliver(PN1, batch);
      await deliver(
        PN1,
        textWebhook(PN1, [{ from: contact, id: "wamid.dup.sentinel", body: "s" }]),
      );
      await waitFor(() => hasWamid(contact, "wamid.dup.sentinel"), { timeoutMs: 20_000 });
      expect(wamidsOf(contact)).toEqual(["wamid.dup.1", "wamid.dup.2", "wamid.dup.sentinel"]);
      const ids = seen.filter((s) => s.key === contact).map((s) => s.event.eventId);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await router.stop();
    }
  });

  it("dead-letters an unparseable payload with its raw coordinates; after the fix a re-drive adds only what is missing", async () => {
    const a = "16505550020";
    const b = "16505550021";
    // The deployed parser has a bug: it cannot read order messages.
    const buggy = (input: ParseInput) => {
      if (input.body.includes('"type":"order"')) {
        throw new UnparseableWebhookError(
          "order messages not supported",
          input.raw.data.deliveryId,
        );
      }
      return parseWebhook(input);
    };
    let router = await startRouter(buggy);
    const before = deadLetters.length;
    try {
      await deliver(PN1, textWebhook(PN1, [{ from: a, id: "wamid.fix.a1", body: "hello" }]));
      await waitFor(() => hasWamid(a, "wamid.fix.a1"), { timeoutMs: 20_000 });
      // A Meta retry of a1, batched with an order from b: the buggy parser fails the whole POST.
      const mixed = textWebhook(PN1, [{ from: a, id: "wamid.fix.a1", body: "hello" }]);
      const value = mixed.entry[0]?.changes[0]?.value as { messages: object[]; contacts: object[] };
      value.contacts.push({ profile: { name: "b" }, wa_id: b });
      value.messages.push({
        from: b,
        id: "wamid.fix.b1",
        timestamp: String(nowSec()),
        type: "order",
        order: {
          catalog_id: "cat",
          product_items: [
            { product_retailer_id: "sku", quantity: 1, item_price: 5, currency: "EUR" },
          ],
        },
      });
      await deliver(PN1, mixed);
      await deliver(PN1, "{this is not json");
      await waitFor(() => deadLetters.length >= before + 2, { timeoutMs: 30_000 });
      const header = (r: RawRecord, name: string) => r.headers[name]?.toString();
      const rawTopic = catalog.topic("raw-webhooks").name;
      for (const letter of deadLetters.slice(before)) {
        expect(header(letter, headerNames.dlq.originalTopic)).toBe(rawTopic);
        expect(header(letter, headerNames.dlq.originalPartition)).toMatch(/^\d+$/);
        expect(header(letter, headerNames.dlq.originalOffset)).toMatch(/^\d+$/);
        expect(header(letter, headerNames.dlq.errorClass)).toBe("UnparseableWebhookError");
      }
      expect(hasWamid(b, "wamid.fix.b1")).toBe(false);
    } finally {
      await router.stop();
    }

    // The fix is deployed; the dead letters go back to the raw topic.
    router = await startRouter();
    try {
      const report = await redrive({
        kafka,
        deadLetterTopic: catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER).name,
      });
      expect(report.redriven).toBeGreaterThanOrEqual(2);
      await waitFor(() => hasWamid(b, "wamid.fix.b1"), { timeoutMs: 30_000 });
      // The still-broken JSON dead-letters again; a1 was already produced and is not repeated.
      await waitFor(() => deadLetters.length >= before + 3, { timeoutMs: 30_000 });
      expect(wamidsOf(a)).toEqual(["wamid.fix.a1"]);
      expect(wamidsOf(b)).toEqual(["wamid.fix.b1"]);
    } finally {
      await router.stop();
    }
  });

  it("keeps its dedupe state across a restart: a retry after the restart produces nothing new", async () => {
    const contact = "16505550030";
    const batch = textWebhook(PN2, [{ from: contact, id: "wamid.restart.1", body: "before" }]);
    let router = await startRouter();
    try {
      await deliver(PN2, batch);
      await waitFor(() => hasWamid(contact, "wamid.restart.1"), { timeoutMs: 20_000 });
    } finally {
      await router.stop();
    }
    router = await startRouter();
    try {
      await deliver(PN2, batch);
      await deliver(
        PN2,
        textWebhook(PN2, [{ from: contact, id: "wamid.restart.2", body: "after" }]),
      );
      await waitFor(() => hasWamid(contact, "wamid.restart.2"), { timeoutMs: 20_000 });
      expect(wamidsOf(contact)).toEqual(["wamid.restart.1", "wamid.restart.2"]);
      const windowIds = seen
        .filter((s) => s.key === contact && s.topic === catalog.topic("conversation-windows").name)
        .map((s) => s.event.eventId);
      expect(new Set(windowIds).size).toBe(windowIds.length);
    } finally {
      await router.stop();
    }
  });
});
