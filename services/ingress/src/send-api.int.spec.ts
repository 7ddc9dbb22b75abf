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
import { createMongo, type MongoConnection } from "@parley/mongo";
import type { Component } from "@parley/runtime";
import { createLogger, createMetrics } from "@parley/telemetry";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { hashApiKey } from "@parley/runtime";
import { startSendApi, type SendApiSettings } from "./adapters/http/send-server.js";

// The send API as main.ts starts it, against the real broker, registry and MongoDB: a 202
// means the SendRequested is on the contact-keyed topic (acks=all) with the key's requester; a
// repeated key returns the original request id and leaves exactly one record.
const SEND_KEY = "int-orders-send-key-01";
const READ_KEY = "int-orders-read-key-02";
type Admin = ReturnType<KafkaClient["admin"]>;

let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let serde: Serde;
let topic: TopicSpec;
let admin: Admin | undefined;
let mongo: MongoConnection | undefined;
let components: readonly Component[] = [];
let url = "";

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("send-api");
  const prefix = `${ns.id}.`;
  topic = createCatalog({ prefix }).topicOf("SendRequested");
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await provisionTopics({ kafka, topics: [topic], serde });
  admin = kafka.admin();
  await admin.connect();
  const config: SendApiSettings = {
    HTTP_HOST: "127.0.0.1",
    SEND_API_KEYS: [
      {
        id: "orders",
        keySha256: hashApiKey(SEND_KEY),
        scopes: ["messages:send"],
        requester: "orders",
      },
      {
        id: "orders",
        keySha256: hashApiKey(READ_KEY),
        scopes: ["messages:read"],
        requester: "orders",
      },
    ],
    SEND_API_PORT: 0,
    SEND_API_BODY_LIMIT_BYTES: 4096,
    SEND_API_PUBLISH_TIMEOUT_MS: 10_000,
    SEND_API_RATE_PER_SECOND: 0,
    SEND_API_RATE_BURST: 1,
    SEND_API_COLLECTION: "send_requests",
    SEND_API_IDEMPOTENCY_TTL_MS: 7 * 24 * 60 * 60 * 1000,
  };
  // Connections as main.ts makes them: the catalog's topic, an acks=all producer, MongoDB.
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  const producer = createEventProducer({ kafka, serde, name: "send-requests producer" });
  await producer.connect();
  const server = await startSendApi(config, {
    db: mongo.db,
    producer,
    catalog: createCatalog({ prefix }),
    logger: createLogger({ service: "send-api-int", level: "silent" }),
    metrics: createMetrics({ service: "send-api-int", collectDefaults: false }),
  });
  components = [{ name: "producer", stop: () => producer.disconnect() }, server];
  url = `http://127.0.0.1:${String(server.port)}`;
});

afterAll(async () => {
  for (const c of [...components].reverse()) await c.stop();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await admin?.disconnect();
  await stack.stop();
});

/** Records on the topic now: the sum of the partitions' high watermarks. */
async function recordCount(): Promise<number> {
  if (admin === undefined) throw new Error("beforeAll did not finish");
  const offsets = await admin.fetchTopicOffsets(topic.name);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

async function readAll(expected: number) {
  const records: { key: string; event: EventOf<"SendRequested"> }[] = [];
  const consumer = kafka.consumer({ groupId: ns.group(`reader-${String(Date.now())}`) });
  await consumer.connect();
  await consumer.subscribe({ topic: topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = (await serde.decode(topic, message.value)) as EventOf<"SendRequested">;
      records.push({ key: message.key?.toString() ?? "", event });
    },
  });
  await waitFor(() => records.length >= expected, {
    timeoutMs: 30_000,
    description: `${String(expected)} records on ${topic.name}`,
  });
  await consumer.disconnect();
  return records;
}

const body = (contactId: string, over: Record<string, unknown> = {}) => ({
  contactId,
  recipient: { phone: contactId },
  sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
  content: { type: "text", text: { body: "Your order 42 has shipped" } },
  category: "utility",
  ...over,
});

const post = async (payload: unknown, idempotencyKey: string, key = SEND_KEY) => {
  const res = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    },
    body: typeof payload === "string" ? payload : JSON.stringify(payload),
  });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as Record<string, unknown>,
  };
};

describe("send API against Kafka, the registry and MongoDB", () => {
  it("202 only once the SendRequested is on the contact-keyed topic, requester from the key; a repeated key returns the original id and leaves one record; another body is a 409", async () => {
    const first = await post(body("16505550001"), "orders:1:shipped");
    expect(first.status).toBe(202);
    const requestId = first.json["requestId"] as string;
    expect(first.headers.get("location")).toBe(`/v1/messages/${requestId}`);
    // Acknowledged by all in-sync replicas before the answer: on the topic already.
    expect(await recordCount()).toBe(1);

    const again = await post(body("16505550001"), "orders:1:shipped");
    expect(again.status).toBe(200);
    expect(again.json["requestId"]).toBe(requestId);
    const conflict = await post(body("16505550001", { category: "marketing" }), "orders:1:shipped");
    expect(conflict.status).toBe(409);
    expect(conflict.json["requestId"]).toBe(requestId);
    expect(await recordCount()).toBe(1);

    const [record] = await readAll(1);
    expect(record?.key).toBe("16505550001");
    expect(record?.event).toMatchObject({
      type: "SendRequested",
      correlationId: requestId,
      businessNumber: "106540352242922",
      data: { requester: "orders", idempotencyKey: "orders:1:shipped", contactId: "16505550001" },
    });

    const view = await fetch(`${url}/v1/messages/${requestId}`, {
      headers: { authorization: `Bearer ${READ_KEY}` },
    });
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({
      requestId,
      idempotencyKey: "orders:1:shipped",
      state: "published",
    });
  });

  it("concurrent posts of one new key yield one request id and one record", async () => {
    const before = await recordCount();
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => post(body("16505550002"), "orders:2:shipped")),
    );
    const ids = new Set(answers.map((a) => a.json["requestId"]));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    // Repeats that arrive while the first publish is in flight wait for it: one record.
    expect((await recordCount()) - before).toBe(1);
  });

  it("refuses bad requests with problem details and publishes nothing", async () => {
    const before = await recordCount();
    const invalid = await post({ contactId: "", sender: { kind: "pager" }, extra: 1 }, "k-1");
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const pointers = (invalid.json["errors"] as { pointer?: string }[]).map((e) => e.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining([
        "/contactId",
        "/recipient",
        "/sender/kind",
        "/content",
        "/category",
        "/extra",
      ]),
    );
    expect((await post(body("16505550003"), "k-2", "wrong-key-0000")).status).toBe(401);
    expect((await post(body("16505550003"), "k-3", READ_KEY)).status).toBe(403);
    const big = body("16505550003", { metadata: { note: "x".repeat(5000) } });
    expect((await post(big, "k-4")).status).toBe(413);
    const text = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${SEND_KEY}`,
        "content-type": "text/plain",
        "idempotency-key": "k-5",
      },
      body: "hello",
    });
    expect(text.status).toBe(415);
    expect(await recordCount()).toBe(before);
  });
});
