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
  type ConsumerRunner,
  type EventProducer,
  type KafkaClient,
  type RawRecord,
  type Serde,
  createCatalogPublisher,
} from "@parley/kafka";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { eventIdOf } from "../../inbound/event-id.js";
import { createInboundHandler, type InboundHandler } from "../../inbound/handler.js";
import { createKeywordMatcher, defaultKeywords } from "../../inbound/keywords.js";
import type { ParseInput, ParsedWebhook } from "../../inbound/parse.js";
import { createContactStore } from "../store/contact-store.js";
import { createLaneGate, firstLane, receiptLane } from "../../lanes.js";
import {
  createRawWebhookConsumer,
  ROUTER_INBOUND_CONSUMER,
  ROUTER_STATUSES_CONSUMER,
} from "./raw-webhook-consumer.js";

// The router's inbound side on the real broker, registry and MongoDB, as main.ts composes it,
// with readers of every output topic and of the router's dead-letter topic. One namespace per
// spec file (random topic prefix, groups and database).

export const WABA = "102290129340398";

export interface Seen {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly event: AnyEvent;
}

export interface InboundRouter {
  stop(): Promise<void>;
}

export interface RouterOptions {
  /** The parser; a test plays "the deployed parser had a bug" with it. */
  readonly parse?: (input: ParseInput) => ParsedWebhook;
  /** Wraps the handler; a test plays a dependency failing for some webhooks with it. */
  readonly wrapHandler?: (handler: InboundHandler) => InboundHandler;
  /**
   * Also runs the statuses lane (raw-status-webhooks, ADR 0004) over the same handler, its
   * receipts waiting their turn behind the main lane as main.ts wires them.
   */
  readonly statusLane?: boolean;
}

export interface InboundHarness {
  readonly catalog: Catalog;
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly mongo: MongoConnection;
  /** Every record on the router's output topics, in arrival order. */
  readonly seen: Seen[];
  /** Every record on the router's dead-letter topic. */
  readonly deadLetters: RawRecord[];
  startRouter(options?: RouterOptions): Promise<InboundRouter>;
  /**
   * Appends a webhook body to the raw topic as ingress would (one delivery id per POST); to
   * raw-status-webhooks as a RawStatusWebhookReceived with lane `statuses`.
   */
  deliver(pnid: string, body: string | Buffer | object, lane?: "statuses"): Promise<string>;
  /** Per raw partition: the router group's committed offset and the partition's end. */
  rawProgress(): Promise<{ partition: number; committed: number; end: number }[]>;
  /** The dead letter of a delivery and its reason (error class: message), if any. */
  deadLetterOf(deliveryId: string): { errorClass: string; reason: string } | undefined;
  inboundOf(contactId: string): EventOf<"InboundMessageReceived">[];
  stop(): Promise<void>;
}

const header = (record: RawRecord, name: string) => record.headers[name]?.toString();

export async function startInboundHarness(label: string): Promise<InboundHarness> {
  const cleanups: (() => Promise<void>)[] = [];
  const stack: Stack = await startStack();
  cleanups.push(() => stack.stop());
  const ns = stack.namespace(label);
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 3, business: 2, raw: 2 },
  });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const reader = `${label}-reader`;
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER),
          catalog.deadLetterTopic(ROUTER_STATUSES_CONSUMER),
          catalog.deadLetterTopic(reader),
          catalog.deadLetterTopic(`${reader}-dlq`),
        ],
      }).then(() => true),
    { timeoutMs: 60_000, intervalMs: 500, description: "topics provisioned" },
  );
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  cleanups.push(async () => {
    // The native MongoDB stand-in keeps everything in memory: leave nothing behind.
    await mongo.db.dropDatabase();
    await mongo.close();
  });
  const rawProducer: EventProducer = createEventProducer({ kafka, serde, name: "test raw" });
  await rawProducer.connect();
  cleanups.push(() => rawProducer.disconnect());

  const seen: Seen[] = [];
  const deadLetters: RawRecord[] = [];
  const output: ConsumerRunner = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: reader,
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
  await output.start();
  cleanups.push(() => output.stop());
  const dlq = createConsumerRunner<RawRecord>({
    kafka,
    groupId: ns.group("dlq-reader"),
    topics: [
      catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER).name,
      catalog.deadLetterTopic(ROUTER_STATUSES_CONSUMER).name,
    ],
    deadLetterTopic: catalog.deadLetterTopic(`${reader}-dlq`).name,
    fromBeginning: true,
    // Records up to the raw topic's size come back through the dead-letter topic.
    maxBytesPerPartition: catalog.topic("raw-webhooks").maxRecordBytes,
    decode: (record) => record,
    handle: (record) => {
      deadLetters.push(record.value);
      return Promise.resolve();
    },
  });
  await dlq.start();
  cleanups.push(() => dlq.stop());

  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const rawTopic = catalog.topic("raw-webhooks").name;
  let deliveries = 0;

  return {
    catalog,
    kafka,
    serde,
    mongo,
    seen,
    deadLetters,
    async startRouter({
      parse,
      wrapHandler = (handler: InboundHandler) => handler,
      statusLane = false,
    } = {}) {
      const producer = createEventProducer({ kafka, serde, name: "router-inbound producer" });
      await producer.connect();
      const clock = () => new Date();
      const handler = createInboundHandler({
        // As main.ts (ROUTER_STATE_CACHE_SIZE's default): saves of what changed.
        store: createContactStore({ db: mongo.db, rememberKeys: 1_000 }),
        publish: createCatalogPublisher(producer, catalog),
        clock,
        decideWith: {
          windowMs: 24 * 3_600_000,
          matchKeyword: createKeywordMatcher(defaultKeywords),
          eventIdOf,
        },
        limits: { maxIds: 500, ttlMs: 8 * 24 * 3_600_000 },
      });
      const wrapped = wrapHandler(handler);
      const lanes = createLaneGate({ maxWaitMs: 200, spareBelow: 0.5 });
      const options = {
        kafka,
        serde,
        catalog,
        clock,
        ...(parse ? { parse } : {}),
        tuning: {
          fromBeginning: true,
          commitIntervalMs: 50,
          retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 500 },
        },
      };
      const consumers: ConsumerRunner[] = [
        createRawWebhookConsumer({
          ...options,
          handler: statusLane ? firstLane(lanes, wrapped) : wrapped,
        }),
      ];
      if (statusLane) {
        consumers.push(
          createRawWebhookConsumer({
            ...options,
            lane: "statuses",
            handler: receiptLane(lanes, wrapped),
          }),
        );
      }
      for (const c of consumers) await c.start();
      return {
        async stop() {
          for (const c of consumers) await c.stop();
          await producer.disconnect();
        },
      };
    },
    async deliver(pnid, body, lane) {
      const bytes = Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
      const deliveryId = `${label}-delivery-${String(++deliveries)}`;
      const data = {
        deliveryId,
        bodyBase64: bytes.toString("base64"),
        signature: "sha256=not-checked-here",
        contentType: "application/json",
        sizeBytes: bytes.length,
        phoneNumberIds: [pnid],
        wabaIds: [WABA],
      };
      const meta = { correlationId: deliveryId, now: new Date() };
      if (lane === "statuses") {
        const raw = createEvent("RawStatusWebhookReceived", data, meta);
        const topic = catalog.topic("raw-status-webhooks");
        await rawProducer.publish(topic, [{ key: topic.keyOf(raw), event: raw }]);
      } else {
        const raw = createEvent("RawWebhookReceived", data, meta);
        const topic = catalog.topic("raw-webhooks");
        await rawProducer.publish(topic, [{ key: topic.keyOf(raw), event: raw }]);
      }
      return deliveryId;
    },
    async rawProgress() {
      const [committed, ends] = await Promise.all([
        admin.fetchOffsets({
          groupId: `${catalog.prefix}parley.${ROUTER_INBOUND_CONSUMER}`,
          topics: [rawTopic],
        }),
        admin.fetchTopicOffsets(rawTopic),
      ]);
      const byPartition = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      return ends.map((p) => ({
        partition: p.partition,
        committed: Math.max(0, byPartition.get(p.partition) ?? 0),
        end: Number(p.high),
      }));
    },
    deadLetterOf(deliveryId) {
      const record = deadLetters.find((r) => {
        const decoded = r.headers[headerNames.correlationId]?.toString();
        return decoded === deliveryId;
      });
      if (record === undefined) return undefined;
      return {
        errorClass: header(record, headerNames.dlq.errorClass) ?? "",
        reason: header(record, headerNames.dlq.errorMessage) ?? "",
      };
    },
    inboundOf(contactId) {
      return seen
        .map((s) => s.event)
        .filter(
          (e): e is EventOf<"InboundMessageReceived"> =>
            e.type === "InboundMessageReceived" && e.data.contactId === contactId,
        );
    },
    async stop() {
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

/** A signed-looking messages webhook body with text messages (one contacts[] item per sender). */
/** A messages-field webhook of one change whose value holds `items` beside the metadata. */
export function messagesWebhook<T extends Record<string, unknown>>(pnid: string, items: T) {
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
              ...items,
            },
          },
        ],
      },
    ],
  };
}

export function textWebhook(
  pnid: string,
  messages: readonly { from: string; id: string; body: string }[],
) {
  return messagesWebhook(pnid, {
    contacts: [...new Set(messages.map((m) => m.from))].map((wa) => ({
      profile: { name: `user ${wa}` },
      wa_id: wa,
    })),
    messages: messages.map((m) => ({
      from: m.from,
      id: m.id,
      timestamp: String(Math.floor(Date.now() / 1000)),
      type: "text",
      text: { body: m.body },
    })),
  });
}
