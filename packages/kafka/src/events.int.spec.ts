import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { context, propagation, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCatalog,
  createEvent,
  headerNames,
  type Catalog,
  type EventOf,
} from "@parley/contracts";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { createKafka, type KafkaClient } from "./connection.js";
import { createEventConsumer } from "./event-consumer.js";
import { createEventProducer, type EventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { createRegistry } from "./registry.js";
import { createSerde, type Serde } from "./serde.js";
import type { ConsumerRunner, ConsumedRecord } from "./runner.js";

// The layer end to end on catalog topics: provisioning, registry serde, trace context from the
// producer's span to the consumer's, and contract violations dead-lettered.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

let stack: Stack;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let producer: EventProducer;
const runners: ConsumerRunner[] = [];

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  stack = await startStack();
  const ns = stack.namespace("events");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 2, raw: 1 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  producer = createEventProducer({ kafka, serde });
  await producer.connect();
});

afterAll(async () => {
  for (const r of runners) await r.stop();
  await producer.disconnect();
  await stack.stop();
  trace.disable();
  context.disable();
  propagation.disable();
});

const revoked = (contactId: string, n: number): EventOf<"ConsentRevoked"> =>
  createEvent(
    "ConsentRevoked",
    {
      contactId,
      scope: "all",
      channel: "whatsapp",
      source: "keyword",
      evidence: { text: `STOP ${n}` },
    },
    { correlationId: `corr-${contactId}-${n}`, now: new Date() },
  );

/** Starts a consumer of the consent topic that keeps the records `keep` accepts, in arrival order. */
async function collect(
  consumer: string,
  keep: (event: EventOf<"ConsentRevoked">) => boolean,
): Promise<ConsumedRecord<unknown>[]> {
  const got: ConsumedRecord<unknown>[] = [];
  const runner = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer,
    topics: [catalog.topic("consent")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      if (keep(record.value as EventOf<"ConsentRevoked">)) got.push(record);
      return Promise.resolve();
    },
  });
  runners.push(runner);
  await runner.start();
  return got;
}

describe("provisioning", () => {
  it("creates the catalog's topics and registers their schemas, then reports no drift", async () => {
    const topics = [...catalog.topics, catalog.deadLetterTopic("consent-test")];
    const first = await provisionTopics({ kafka, topics, serde });
    expect(first.created).toHaveLength(topics.length);
    expect(first.schemas.length).toBe(catalog.topics.filter((t) => t.events.length > 0).length);
    const second = await provisionTopics({ kafka, topics, serde, checkOnly: true });
    expect(second.created).toEqual([]);
    expect(second.drift).toEqual([]);
    expect(second.verified).toHaveLength(topics.length);
  });

  it("reports drift it will not fix by itself", async () => {
    const consent = catalog.topic("consent");
    const report = await provisionTopics({
      kafka,
      topics: [{ ...consent, partitions: consent.partitions + 1 }],
      checkOnly: true,
    });
    expect(report.drift).toEqual([
      {
        topic: consent.name,
        problem: `has ${consent.partitions} partitions, catalog says ${consent.partitions + 1}`,
      },
    ]);
  });
});

describe("producer and consumer", () => {
  it("round-trips events in per-contact order with correlation ids, and the consumer span is a child of the producer span", async () => {
    const topic = catalog.topic("consent");
    const got = await collect("consent-test", () => true);

    const contacts = ["5511999990001", "5511999990002", "5511999990003"];
    await trace.getTracer("test").startActiveSpan("request", async (span) => {
      for (let n = 0; n < 5; n++) {
        await producer.publish(
          topic,
          contacts.map((c) => ({ key: c, event: revoked(c, n) })),
        );
      }
      span.end();
    });
    await waitFor(() => got.length === 15, { timeoutMs: 30_000, description: "15 consent events" });

    for (const c of contacts) {
      const texts = got
        .filter((r) => r.key === c)
        .map((r) => (r.value as EventOf<"ConsentRevoked">).data.evidence?.text);
      expect(texts).toEqual([0, 1, 2, 3, 4].map((n) => `STOP ${n}`));
    }
    const sample = got[0];
    expect(sample?.headers[headerNames.eventType]).toBe("ConsentRevoked");
    expect(sample?.headers[headerNames.correlationId]).toMatch(/^corr-/);

    const spans = exporter.getFinishedSpans();
    const consumerSpans = spans.filter((s) => s.name === `${topic.name} process`);
    const producerSpans = spans.filter((s) => s.name === `${topic.name} publish`);
    expect(consumerSpans).toHaveLength(15);
    const producerIds = new Set(producerSpans.map((s) => s.spanContext().spanId));
    for (const s of consumerSpans) {
      expect(producerIds.has(s.parentSpanContext?.spanId ?? "")).toBe(true);
      expect(s.spanContext().traceId).toBe(producerSpans[0]?.spanContext().traceId);
    }
  });

  it("shares produce requests between concurrent publishes, keeping call order per contact and each call's own trace", async () => {
    const topic = catalog.topic("consent");
    const got = await collect("consent-batch-test", (event) =>
      event.correlationId.startsWith("corr-batch-"),
    );

    // 240 publishes in flight at once (no caller waits for the previous one), each in a trace of
    // its own: they share requests, so order and trace context must survive the grouping.
    const contacts = ["5511999990101", "5511999990102", "5511999990103", "5511999990104"];
    const traceOf = new Map<string, string>();
    const calls: Promise<void>[] = [];
    for (let n = 0; n < 60; n++) {
      for (const c of contacts) {
        const event = revoked(`batch-${c}`, n);
        calls.push(
          trace.getTracer("test").startActiveSpan(`request ${c} ${n}`, async (span) => {
            traceOf.set(event.correlationId, span.spanContext().traceId);
            try {
              await producer.publish(topic, [{ key: c, event }]);
            } finally {
              span.end();
            }
          }),
        );
      }
    }
    await Promise.all(calls);
    await waitFor(() => got.length === 240, {
      timeoutMs: 30_000,
      description: "240 consent events",
    });

    for (const c of contacts) {
      const texts = got
        .filter((r) => r.key === c)
        .map((r) => (r.value as EventOf<"ConsentRevoked">).data.evidence?.text);
      expect(texts).toEqual(Array.from({ length: 60 }, (_, n) => `STOP ${n}`));
    }
    const consumerSpans = exporter
      .getFinishedSpans()
      .filter(
        (s) =>
          s.name === `${topic.name} process` &&
          String(s.attributes["messaging.consumer.group.name"]).endsWith("consent-batch-test"),
      );
    for (const record of got) {
      const event = record.value as EventOf<"ConsentRevoked">;
      const span = consumerSpans.find(
        (s) =>
          s.attributes["messaging.kafka.offset"] === Number(record.offset) &&
          s.attributes["messaging.destination.partition.id"] === String(record.partition),
      );
      expect(span?.spanContext().traceId).toBe(traceOf.get(event.correlationId));
    }
  });

  it("refuses to publish an event that breaks the topic's contract", async () => {
    const bad = { ...revoked("5511999990009", 0), data: { contactId: "5511999990009" } };
    await expect(
      producer.publish(catalog.topic("consent"), [{ key: "5511999990009", event: bad }]),
    ).rejects.toThrow(/does not match the contract/);
  });

  it("dead-letters a record whose bytes are not a registered event, and keeps going", async () => {
    const topic = catalog.topic("consent");
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({
      topic: topic.name,
      messages: [{ key: "5511999990005", value: "not avro, not json, not ours" }],
    });
    await raw.disconnect();
    await producer.publish(topic, [{ key: "5511999990005", event: revoked("5511999990005", 9) }]);

    const dlq = catalog.deadLetterTopic("consent-test");
    const reader = kafka.consumer({ groupId: `${dlq.name}.reader` });
    const letters: Record<string, string | undefined>[] = [];
    await reader.connect();
    await reader.subscribe({ topic: dlq.name, fromBeginning: true });
    await reader.run({
      eachMessage: ({ message }) => {
        letters.push(
          Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
          ),
        );
        return Promise.resolve();
      },
    });
    await waitFor(() => letters.length === 1, {
      timeoutMs: 20_000,
      description: "one dead letter",
    });
    await reader.disconnect();
    expect(letters[0]?.[headerNames.dlq.errorClass]).toBe("PoisonRecordError");
    expect(letters[0]?.[headerNames.dlq.originalTopic]).toBe(topic.name);
    expect(letters[0]?.[headerNames.dlq.consumerGroup]).toBe(
      `${catalog.prefix}parley.consent-test`,
    );
  });
});
