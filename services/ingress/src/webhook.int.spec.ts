import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metaJsonStringify, signWebhookBody } from "@parley/cloud-api";
import { createCatalog, type Catalog, type EventOf, type TopicSpec } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type EventProducer,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import { createMetrics } from "@parley/telemetry";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { createAllowList } from "./adapters/http/allow-list.js";
import {
  startWebhookServer,
  WEBHOOK_PATH,
  type WebhookServer,
  type WebhookServerOptions,
} from "./adapters/http/webhook-server.js";
import { createRawWebhookAppender } from "./adapters/kafka/raw-appender.js";
import { createRateLimiter } from "./admission/rate-limit.js";
import { createWebhookMetrics } from "./metrics.js";

// Must-show of ingress against the real broker and registry: a 200 means the bytes are on the
// raw topic (acks=all), a forged POST appends nothing, and an append Kafka cannot take is a 503.
const SECRET = "int-app-secret-0123";
type Admin = ReturnType<KafkaClient["admin"]>;
type Consumer = ReturnType<KafkaClient["consumer"]>;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let raw: TopicSpec;
let rawStatuses: TopicSpec;
let topics: { webhooks: TopicSpec; statuses: TopicSpec };
let kafka: KafkaClient;
let serde: Serde;
let admin: Admin | undefined;
let producer: EventProducer | undefined;
const servers: WebhookServer[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("ingress");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { raw: 2 } });
  raw = catalog.topic("raw-webhooks");
  rawStatuses = catalog.topic("raw-status-webhooks");
  topics = { webhooks: raw, statuses: rawStatuses };
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await provisionTopics({ kafka, topics: [raw, rawStatuses], serde });
  admin = kafka.admin();
  await admin.connect();
  producer = createEventProducer({ kafka, serde, name: "ingress-int" });
  await producer.connect();
});

const connected = () => {
  if (admin === undefined || producer === undefined) throw new Error("beforeAll did not finish");
  return { admin, producer };
};

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const c of consumers) await c.disconnect();
  await producer?.disconnect();
  await admin?.disconnect();
  await stack.stop();
});

async function start(appender: WebhookServerOptions["appender"]): Promise<string> {
  const server = await startWebhookServer({
    host: "127.0.0.1",
    port: 0,
    verifyToken: "int-verify-token",
    appSecrets: [SECRET],
    bodyLimitBytes: 3 * 1024 * 1024,
    trustProxy: false,
    rateLimiter: createRateLimiter({ ratePerSecond: 0, burst: 1 }),
    allowList: createAllowList([]),
    appender,
    metrics: createWebhookMetrics(
      createMetrics({ service: "ingress-int", collectDefaults: false }),
    ),
    logger: quiet,
  });
  servers.push(server);
  return `http://127.0.0.1:${server.port}${WEBHOOK_PATH}`;
}

/** Records on the topic now: the sum of the partitions' high watermarks. */
async function recordCount(topic: string): Promise<number> {
  const offsets = await connected().admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

async function readAll(topic: TopicSpec, expected: number) {
  type Raw = EventOf<"RawWebhookReceived" | "RawStatusWebhookReceived">;
  const records: { key: string; event: Raw }[] = [];
  const consumer = kafka.consumer({ groupId: ns.group(`reader-${consumers.length}`) });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = (await serde.decode(topic, message.value)) as Raw;
      records.push({ key: message.key?.toString() ?? "", event });
    },
  });
  await waitFor(() => records.length >= expected, {
    timeoutMs: 30_000,
    description: `${expected} records on ${topic.name}`,
  });
  return records;
}

/** A messages-field webhook of one change whose value holds `items` beside the metadata. */
const messagesWebhook = (phoneNumberId: string, items: Record<string, unknown>) =>
  metaJsonStringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
              ...items,
            },
          },
        ],
      },
    ],
  });

const webhook = (phoneNumberId: string, text: string) =>
  messagesWebhook(phoneNumberId, {
    messages: [{ from: "16505551234", id: `wamid.${text}`, type: "text", text: { body: text } }],
  });

const statusWebhook = (phoneNumberId: string, statuses: readonly string[]) =>
  messagesWebhook(phoneNumberId, {
    statuses: statuses.map((status, i) => ({
      id: `wamid.out-${String(i)}`,
      status,
      timestamp: "1767225600",
      recipient_id: "16505551234",
    })),
  });

const post = (url: string, body: string, signature?: string) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(signature === undefined ? {} : { "x-hub-signature-256": signature }),
    },
    body,
  });

describe("ingress on the real broker", () => {
  let url: string;
  const accepted: string[] = [];

  beforeAll(async () => {
    url = await start(
      createRawWebhookAppender({ producer: connected().producer, topics, timeoutMs: 5_000 }),
    );
  });

  it("answers 200 only once the record is on the raw topic", async () => {
    const body = webhook("106540352242922", "Olá 😀 a/b @ café");
    const before = await recordCount(raw.name);
    const res = await post(url, body, signWebhookBody(body, SECRET));
    // Checked at once, no waiting: the 200 came after all in-sync replicas had the record.
    const after = await recordCount(raw.name);
    expect(res.status).toBe(200);
    expect(after).toBe(before + 1);
    accepted.push(body);
  });

  it("appends nothing for a forged or unsigned POST", async () => {
    const body = webhook("106540352242922", "forged");
    const before = await recordCount(raw.name);
    expect((await post(url, body, signWebhookBody(body, "not-the-app-secret"))).status).toBe(401);
    expect((await post(url, body)).status).toBe(401);
    const altered = body.replace("forged", "forgeD");
    expect((await post(url, altered, signWebhookBody(body, SECRET))).status).toBe(401);
    expect(await recordCount(raw.name)).toBe(before);
  });

  it("keeps concurrent POSTs, including garbage that is signed, each exactly once", async () => {
    const bodies = [
      ...Array.from({ length: 40 }, (_, i) => webhook(`10654035224${i % 3}`, `msg-${i} ✓`)),
      "not json at all",
    ];
    const before = await recordCount(raw.name);
    const statuses = await Promise.all(bodies.map((b) => post(url, b, signWebhookBody(b, SECRET))));
    expect(statuses.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(await recordCount(raw.name)).toBe(before + bodies.length);
    accepted.push(...bodies);
  });

  it("reads back byte-identical bodies with their signature, metadata and routing key", async () => {
    const records = await readAll(raw, accepted.length);
    expect(records).toHaveLength(accepted.length);
    const byBody = new Map(
      records.map((r) => [Buffer.from(r.event.data.bodyBase64, "base64").toString("utf8"), r]),
    );
    for (const body of accepted) {
      const record = byBody.get(body);
      expect(record, body).toBeDefined();
      if (record === undefined) continue;
      const bytes = Buffer.from(record.event.data.bodyBase64, "base64");
      expect(bytes.equals(Buffer.from(body, "utf8"))).toBe(true);
      expect(record.event.data.signature).toBe(signWebhookBody(body, SECRET));
      expect(record.event.data.sizeBytes).toBe(bytes.length);
      expect(record.event.data.contentType).toBe("application/json");
      expect(record.event.data.sourceIp).toMatch(/127\.0\.0\.1/);
      expect(record.event.correlationId).toBe(record.event.data.deliveryId);
      const expectedKey = record.event.data.phoneNumberIds[0] ?? "unrouted";
      expect(record.key).toBe(expectedKey);
    }
    expect(byBody.get("not json at all")?.key).toBe("unrouted");
    expect(new Set(records.map((r) => r.event.data.deliveryId)).size).toBe(records.length);
  });

  it("appends receipts-only webhooks to the statuses lane, and failures and messages to the main one", async () => {
    const number = "106540352242922";
    const receipt = statusWebhook(number, ["sent", "delivered", "read"]);
    const failure = statusWebhook(number, ["delivered", "failed"]);
    const message = webhook(number, "STOP");
    const before = { main: await recordCount(raw.name), lane: await recordCount(rawStatuses.name) };
    const bodies = [receipt, failure, message];
    const res = await Promise.all(bodies.map((b) => post(url, b, signWebhookBody(b, SECRET))));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
    // Acknowledged means appended, each to its own lane, at once.
    expect(await recordCount(rawStatuses.name)).toBe(before.lane + 1);
    expect(await recordCount(raw.name)).toBe(before.main + 2);
    accepted.push(failure, message);
    const [lane] = await readAll(rawStatuses, 1);
    expect(lane?.event.type).toBe("RawStatusWebhookReceived");
    expect(lane?.key).toBe(number);
    expect(Buffer.from(lane?.event.data.bodyBase64 ?? "", "base64").toString("utf8")).toBe(receipt);
  });
});

describe("when Kafka cannot take the append", () => {
  it("answers 503, never 200, for a topic the broker does not have", async () => {
    const absent = createCatalog({ prefix: `${ns.id}.missing.` });
    const missing = absent.topic("raw-webhooks");
    // Schema registered so the failure is Kafka's, not the registry's.
    await serde.register(missing);
    const url = await start(
      createRawWebhookAppender({
        producer: connected().producer,
        topics: { webhooks: missing, statuses: absent.topic("raw-status-webhooks") },
        timeoutMs: 1_500,
      }),
    );
    const body = webhook("106540352242922", "nowhere");
    const res = await post(url, body, signWebhookBody(body, SECRET));
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const topics = await connected().admin.listTopics();
    expect(topics).not.toContain(missing.name);
  });

  it("answers 503 when the producer is stopped, and appends nothing", async () => {
    const stopped = createEventProducer({ kafka, serde, name: "stopped" });
    await stopped.connect();
    await stopped.disconnect();
    const url = await start(
      createRawWebhookAppender({ producer: stopped, topics, timeoutMs: 1_500 }),
    );
    const before = await recordCount(raw.name);
    const body = webhook("106540352242922", "stopped");
    expect((await post(url, body, signWebhookBody(body, SECRET))).status).toBe(503);
    expect(await recordCount(raw.name)).toBe(before);
  });
});
