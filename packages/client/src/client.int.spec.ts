import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCatalog,
  createEvent,
  exampleData,
  headerNames,
  type Catalog,
} from "@parley/contracts";
import {
  createConsumerRunner,
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
} from "@parley/kafka";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { createParleyClient, type ParleyClient } from "./index.js";
import { MissingIdempotencyKeyError } from "./errors.js";
import type { SendOutcome, StatusEvent } from "./events.js";
import type { SendRequest } from "./request.js";

// The client against the real servers, on a catalog of its own: what requestSend puts on the
// send-requests topic, and outcome and status events reaching the typed handlers.
let stack: Stack;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let producer: EventProducer;
let client: ParleyClient;
let sendRequestsSchemaId: number;
const runners: ConsumerRunner[] = [];

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("client");
  const prefix = `${ns.id}.`;
  catalog = createCatalog({ prefix, partitions: { contact: 3, business: 2, raw: 1 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const report = await provisionTopics({ kafka, topics: catalog.topics, serde });
  const subject = catalog.topic("send-requests").subject;
  sendRequestsSchemaId = report.schemas.find((s) => s.subject === subject)?.id ?? -1;
  producer = createEventProducer({ kafka, serde });
  await producer.connect();
  client = createParleyClient({
    brokers: stack.kafkaBrokers,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    clientId: ns.id,
    prefix,
  });
  await client.connect();
});

afterAll(async () => {
  await client.close();
  for (const r of runners) await r.stop();
  await producer.disconnect();
  await stack.stop();
});

const request = (contactId: string, idempotencyKey: string): SendRequest => ({
  contactId,
  idempotencyKey,
  recipient: { phone: contactId },
  sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
  metadata: { orderId: "42" },
});

/** Every raw record of `topic`, as bytes: what any consumer of the topic would read. */
async function readRaw(topic: string, group: string): Promise<RawRecord[]> {
  const records: RawRecord[] = [];
  const runner = createConsumerRunner<RawRecord>({
    kafka,
    groupId: group,
    topics: [topic],
    deadLetterTopic: catalog.deadLetterTopic("client-it-raw").name,
    decode: (record) => record,
    handle: (record) => {
      records.push(record.value);
      return Promise.resolve();
    },
  });
  runners.push(runner);
  await runner.start();
  return records;
}

const endOffsets = async (topic: string): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
};

describe("requestSend", () => {
  it("appends a registry-encoded SendRequested keyed by contact, correlated by the request id", async () => {
    const topic = catalog.topic("send-requests");
    const records = await readRaw(topic.name, `${catalog.prefix}client-it-raw`);

    const { requestId } = await client.requestSend(request("5511999990001", "orders:42:shipped"));
    const mine = await client.requestSend({
      ...request("5511999990002", "orders:43:shipped"),
      requestId: "orders-43-shipped",
    });
    expect(mine.requestId).toBe("orders-43-shipped");

    const byRequest = (id: string) =>
      records.find((r) => r.headers[headerNames.correlationId]?.toString() === id);
    const record = await waitFor(() => byRequest(requestId), {
      description: `the SendRequested ${requestId} on ${topic.name}`,
    });
    expect(record.key?.toString()).toBe("5511999990001");
    expect(record.headers[headerNames.eventType]?.toString()).toBe("SendRequested");
    // Confluent wire format: magic byte 0, then the id the registry gave the subject's schema.
    const value = record.value ?? Buffer.alloc(0);
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(sendRequestsSchemaId);
    const event = await serde.decode(topic, value);
    expect(event).toMatchObject({
      type: "SendRequested",
      correlationId: requestId,
      causationId: null,
      businessNumber: "106540352242922",
      data: request("5511999990001", "orders:42:shipped"),
    });

    const second = await waitFor(() => byRequest("orders-43-shipped"));
    expect(second.key?.toString()).toBe("5511999990002");
  });

  it("publishes nothing when the idempotency key is missing", async () => {
    const topic = catalog.topic("send-requests").name;
    await client.requestSend(request("5511999990003", "orders:44:shipped"));
    const before = await endOffsets(topic);
    const { idempotencyKey: _, ...withoutKey } = request("5511999990003", "unused");
    await expect(client.requestSend(withoutKey as SendRequest)).rejects.toBeInstanceOf(
      MissingIdempotencyKeyError,
    );
    await client.requestSend(request("5511999990003", "orders:45:shipped"));
    expect(await endOffsets(topic)).toBe(before + 1);
  });
});

describe("onOutcome and onStatus", () => {
  it("hand outcome and status events on their topics to the typed handlers", async () => {
    const outcomes: SendOutcome[] = [];
    const statuses: StatusEvent[] = [];
    const outcomeSubscription = await client.onOutcome(
      (event) => {
        outcomes.push(event);
      },
      { group: "client-it-outcomes" },
    );
    await client.onStatus(
      (event, delivery) => {
        expect(delivery.key).toBe(event.data.contactId);
        statuses.push(event);
      },
      { group: "client-it-statuses" },
    );

    const { requestId } = await client.requestSend(request("5511999990010", "orders:50:shipped"));
    const { requestId: refused } = await client.requestSend(
      request("5511999990011", "orders:51:shipped"),
    );
    const meta = (correlationId: string) => ({ correlationId, now: new Date() });
    const accepted = createEvent(
      "SendAccepted",
      {
        ...exampleData.SendAccepted,
        requestId,
        idempotencyKey: "orders:50:shipped",
        contactId: "5511999990010",
        wamid: "wamid.client-it-1",
      },
      meta(requestId),
    );
    const rejected = createEvent(
      "SendRejected",
      {
        ...exampleData.SendRejected,
        requestId: refused,
        idempotencyKey: "orders:51:shipped",
        contactId: "5511999990011",
      },
      meta(refused),
    );
    const delivered = createEvent(
      "StatusUpdated",
      {
        ...exampleData.StatusUpdated,
        contactId: "5511999990010",
        wamid: "wamid.client-it-1",
        status: "delivered",
      },
      meta("d-client-it"),
    );
    const outcomeTopic = catalog.topic("send-outcomes");
    const statusTopic = catalog.topic("statuses");
    await producer.publish(outcomeTopic, [
      { key: outcomeTopic.keyOf(accepted), event: accepted },
      { key: outcomeTopic.keyOf(rejected), event: rejected },
    ]);
    await producer.publish(statusTopic, [{ key: statusTopic.keyOf(delivered), event: delivered }]);

    await waitFor(() => outcomes.length >= 2 && statuses.length >= 1, {
      timeoutMs: 30_000,
      description: "two outcomes and one status at the handlers",
    });
    const byRequest = new Map(outcomes.map((o) => [o.data.requestId, o]));
    const acceptedSeen = byRequest.get(requestId);
    expect(acceptedSeen).toEqual(accepted);
    if (acceptedSeen?.type === "SendAccepted")
      expect(acceptedSeen.data.wamid).toBe("wamid.client-it-1");
    const rejectedSeen = byRequest.get(refused);
    expect(rejectedSeen?.type).toBe("SendRejected");
    if (rejectedSeen?.type === "SendRejected")
      expect(rejectedSeen.data.reason).toBe("outside_window");
    expect(statuses).toEqual([delivered]);

    // Each group got its own dead-letter topic, created by the subscription.
    const admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics().finally(() => admin.disconnect());
    expect(topics).toEqual(
      expect.arrayContaining([
        catalog.deadLetterTopic("client-it-outcomes").name,
        catalog.deadLetterTopic("client-it-statuses").name,
      ]),
    );
    await outcomeSubscription.stop();
  });
});
