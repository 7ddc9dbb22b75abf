import { createHook } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import type { Consumer, EachMessagePayload } from "kafkajs";
import { createKafka, createKafkaProbe, createProducer, type KafkaClient } from "./connection.js";
import {
  createRegistry,
  createRegistryProbe,
  SchemaType,
  type RegistryClient,
} from "./registry.js";
import { describeRegistryServer } from "./server-info.js";

// The foundation's proof that Parley talks to real servers: registry serde, produce/consume, transactions.
let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let registry: RegistryClient;
const consumers: Consumer[] = [];

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("kafka-int");
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  registry = createRegistry({ url: stack.schemaRegistryUrl });
  const broker = await createKafkaProbe(kafka).describe();
  const registryServer = await describeRegistryServer(stack.schemaRegistryUrl);
  console.log(
    `[servers] Kafka ${process.env["PARLEY_KAFKA_VERSION"] ?? "(version not declared)"} at ${stack.kafkaBrokers.join(",")}: ` +
      `cluster ${broker.clusterId}, ${broker.brokers.length} broker(s), controller ${broker.controller}\n` +
      `[servers] ${registryServer} (source: ${stack.source})`,
  );
});

afterAll(async () => {
  for (const c of consumers) await c.disconnect();
  await stack.stop();
});

const orderSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "OrderPlaced",
  type: "object",
  properties: { orderId: { type: "string" }, amount: { type: "integer" } },
  required: ["orderId", "amount"],
  additionalProperties: false,
};

async function createTopic(name: string, partitions = 1): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  const topic = ns.topic(name);
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  return topic;
}

async function collect(topic: string, group: string, opts: { readUncommitted?: boolean } = {}) {
  const received: EachMessagePayload["message"][] = [];
  const consumer = kafka.consumer({
    groupId: ns.group(group),
    readUncommitted: opts.readUncommitted ?? false,
  });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      received.push(message);
      return Promise.resolve();
    },
  });
  return received;
}

describe("schema registry (Confluent API)", () => {
  it("registers a schema, encodes, decodes and reports the latest id", async () => {
    const subject = `${ns.topic("orders")}-value`;
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(orderSchema) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);

    const encoded = await registry.encode(id, { orderId: "o-1", amount: 42 });
    // Confluent wire format: magic byte 0, then the 4-byte schema id, then the payload.
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(await registry.decode(encoded)).toEqual({ orderId: "o-1", amount: 42 });
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    await expect(registry.encode(id, { orderId: "o-2" })).rejects.toThrow();
  });

  it("answers the readiness probe", async () => {
    await expect(
      createRegistryProbe({ url: stack.schemaRegistryUrl }).check(AbortSignal.timeout(2_000)),
    ).resolves.toBeUndefined();
  });
});

describe("Kafka", () => {
  it("produces registry-encoded records and consumes them back in key order", async () => {
    const topic = await createTopic("orders", 3);
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(orderSchema) },
      { subject: `${topic}-value` },
    );
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({
      orderId: `o-${i}`,
      amount: i,
      key: `contact-${i % 3}`,
    }));
    await producer.send({
      topic,
      acks: -1,
      messages: await Promise.all(
        sent.map(async ({ key, ...value }) => ({
          key,
          value: await registry.encode(id, value),
          headers: { "correlation-id": randomUUID() },
        })),
      ),
    });
    await producer.disconnect();

    const received = await collect(topic, "reader");
    await waitFor(() => received.length === sent.length, {
      timeoutMs: 30_000,
      description: `${sent.length} records on ${topic}`,
    });
    const decoded = await Promise.all(
      received.map(async (m) => ({
        key: m.key?.toString(),
        ...((await registry.decode(m.value ?? Buffer.alloc(0))) as {
          orderId: string;
          amount: number;
        }),
      })),
    );
    for (const key of ["contact-0", "contact-1", "contact-2"]) {
      const expected = sent.filter((s) => s.key === key).map((s) => s.orderId);
      expect(decoded.filter((d) => d.key === key).map((d) => d.orderId)).toEqual(expected);
    }
    expect(received.every((m) => m.headers?.["correlation-id"] !== undefined)).toBe(true);
  });

  it("shows committed transactions to read-committed consumers and hides aborted ones", async () => {
    const topic = await createTopic("tx");
    const producer = kafka.producer({
      transactionalId: ns.transactionalId("tx"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();

    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: [
        { key: "k", value: "committed-1" },
        { key: "k", value: "committed-2" },
      ],
    });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: "k", value: "aborted-1" }] });
    await aborted.abort();

    const after = await producer.transaction();
    await after.send({ topic, messages: [{ key: "k", value: "committed-3" }] });
    await after.commit();
    await producer.disconnect();

    const readCommitted = await collect(topic, "committed-reader");
    const readUncommitted = await collect(topic, "uncommitted-reader", { readUncommitted: true });
    await waitFor(() => readCommitted.length >= 3 && readUncommitted.length >= 4, {
      timeoutMs: 30_000,
      description: "transactional records on both consumers",
    });
    expect(readCommitted.map((m) => m.value?.toString())).toEqual([
      "committed-1",
      "committed-2",
      "committed-3",
    ]);
    expect(readUncommitted.map((m) => m.value?.toString())).toContain("aborted-1");
  });
});

describe("an idle client", () => {
  // kafkajs 2.2.4 re-armed a timer with a negative delay after every answered request, forever
  // (issue #1556): about a thousand callbacks a second per connection, idle or not, on every
  // service. patches/kafkajs@2.2.4.patch stops it; this fails if the patch is lost (an upgrade,
  // an install that skipped it).
  it("arms no timer loop once its requests are answered", async () => {
    const topic = await createTopic("idle-timers");
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({ topic, messages: [{ key: "k", value: "v" }] });
    let timeouts = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === "Timeout") timeouts++;
      },
    }).enable();
    try {
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      hook.disable();
      await producer.disconnect();
    }
    // The wait's own timer, and at most a few of the client's (a request timeout check).
    expect(timeouts).toBeLessThan(20);
  });
});
