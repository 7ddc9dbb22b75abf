import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCatalog, type EventOf, type TopicSpec } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import type { Component } from "@parley/runtime";
import { createLogger, createMetrics } from "@parley/telemetry";
import { infra, ownBroker } from "@parley/e2e";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { hashApiKey } from "@parley/runtime";
import { startSendApi } from "./adapters/http/send-server.js";

// Must-show of the send API across a Kafka outage, on its own broker (profile e2e-send-api, own
// ports; override with SEND_API_E2E_*), so stopping it disturbs no other suite; the registry and
// MongoDB come from the shared stack. While the broker is dead a send gets 503 with Retry-After
// (its key already stored); once it is back, the retry with the same key returns the same
// request id and the topic holds exactly one record of it.
const broker = ownBroker(
  process.env["SEND_API_E2E_PROFILE"] ?? "e2e-send-api",
  "SEND_API_E2E_",
  29292,
);
const kafkaEnv = broker.env;
const brokers = [...broker.brokers];
const KEY = "e2e-orders-send-key-01";

let stack: Stack;
let topic: TopicSpec;
let serde: Serde;
let kafka: KafkaClient;
let components: readonly Component[] = [];
let url = "";
let database = "";

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("send-api-outage");
  database = ns.database();
  const prefix = `${ns.id}.`;
  topic = createCatalog({ prefix, partitions: { contact: 2 } }).topicOf("SendRequested");
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await infra(["start", "kafka"], kafkaEnv, broker.variables);
  kafka = createKafka({ brokers, clientId: ns.id });
  await provisionTopics({ kafka, topics: [topic], serde });
  const mongo = createMongo({ url: stack.mongoUrl, database, appName: "send-api-e2e" });
  const producer = createEventProducer({ kafka, serde, name: "send-requests producer" });
  await producer.connect();
  const started = await startSendApi(
    {
      HTTP_HOST: "127.0.0.1",
      SEND_API_KEYS: [
        {
          id: "orders",
          keySha256: hashApiKey(KEY),
          scopes: ["messages:send"],
          requester: "orders",
        },
      ],
      SEND_API_PORT: 0,
      SEND_API_BODY_LIMIT_BYTES: 262_144,
      SEND_API_PUBLISH_TIMEOUT_MS: 3_000,
      SEND_API_RATE_PER_SECOND: 0,
      SEND_API_RATE_BURST: 1,
      SEND_API_COLLECTION: "send_requests",
      SEND_API_IDEMPOTENCY_TTL_MS: 7 * 24 * 60 * 60 * 1000,
    },
    {
      db: mongo.db,
      producer,
      catalog: createCatalog({ prefix, partitions: { contact: 2 } }),
      logger: createLogger({ service: "send-api-e2e", level: "silent" }),
      metrics: createMetrics({ service: "send-api-e2e", collectDefaults: false }),
    },
  );
  components = [
    { name: "mongodb", stop: () => mongo.close() },
    { name: "producer", stop: () => producer.disconnect() },
    started,
  ];
  url = `http://127.0.0.1:${String(started.port)}`;
});

afterAll(async () => {
  for (const c of [...components].reverse()) await c.stop();
  const mongo = createMongo({ url: stack.mongoUrl, database, appName: "send-api-e2e" });
  await mongo.db.dropDatabase();
  await mongo.close();
  await infra(["stop", "kafka"], kafkaEnv, broker.variables);
  await stack.stop();
});

const post = async (contactId: string, idempotencyKey: string) => {
  const res = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEY}`,
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    },
    body: JSON.stringify({
      contactId,
      recipient: { phone: contactId },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "Your order has shipped" } },
      category: "utility",
    }),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    json: (await res.json()) as Record<string, unknown>,
  };
};

async function readTopic(): Promise<EventOf<"SendRequested">[]> {
  const reader = createKafka({ brokers, clientId: `send-api-e2e-reader-${String(Date.now())}` });
  const admin = reader.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic.name)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const events: EventOf<"SendRequested">[] = [];
  const consumer = reader.consumer({ groupId: `send-api-e2e-reader-${String(Date.now())}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      events.push((await serde.decode(topic, message.value)) as EventOf<"SendRequested">);
    },
  });
  await waitFor(() => events.length >= total, {
    timeoutMs: 60_000,
    description: `${String(total)} records on ${topic.name}`,
  });
  await consumer.disconnect();
  return events;
}

describe("send API across a Kafka outage", () => {
  it("503 with Retry-After while the broker is dead; after it is back the retry with the key publishes exactly once", async () => {
    const before = await post("16505550101", "orders:101:shipped");
    expect(before.status).toBe(202);

    await infra(["stop", "kafka"], kafkaEnv, broker.variables);
    const during = await post("16505550102", "orders:102:shipped");
    expect(during.status).toBe(503);
    expect(during.retryAfter).toBe("5");
    expect(during.json).toMatchObject({ type: "urn:parley:problem:unavailable", status: 503 });
    const requestId = during.json["requestId"];
    expect(typeof requestId).toBe("string");

    await infra(["start", "kafka"], { ...kafkaEnv, KAFKA_KEEP_DATA: "1" }, broker.variables);
    let retry = await post("16505550102", "orders:102:shipped");
    // The producer reconnects on its own; a 503 meanwhile is the same answer as before.
    const deadline = Date.now() + 60_000;
    while (retry.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      retry = await post("16505550102", "orders:102:shipped");
    }
    expect(retry.status).toBe(200);
    expect(retry.json["requestId"]).toBe(requestId);
    // Acknowledged now: one more retry publishes nothing.
    expect((await post("16505550102", "orders:102:shipped")).status).toBe(200);

    const events = await readTopic();
    const ofKey = (key: string) => events.filter((e) => e.data.idempotencyKey === key);
    expect(ofKey("orders:101:shipped")).toHaveLength(1);
    expect(ofKey("orders:102:shipped")).toHaveLength(1);
    expect(ofKey("orders:102:shipped")[0]?.correlationId).toBe(requestId);
  });
});
