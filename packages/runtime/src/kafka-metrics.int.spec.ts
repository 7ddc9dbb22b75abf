import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createConsumerRunner,
  createKafka,
  partitionOfKey,
  PoisonRecordError,
  type KafkaClient,
} from "@parley/kafka";
import { createMetrics } from "@parley/telemetry";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { createKafkaMetrics } from "./kafka-metrics.js";

type Admin = ReturnType<KafkaClient["admin"]>;
type Producer = ReturnType<KafkaClient["producer"]>;

/** The value of one series in an exposition, or undefined when it is absent. */
function valueOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("the chassis's Kafka series (real broker)", () => {
  let stack: Stack;
  let ns: Namespace;
  let kafka: KafkaClient;
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    stack = await startStack();
    ns = stack.namespace("kafka-metrics");
    const plain = createKafka({ brokers: stack.kafkaBrokers, clientId: `${ns.id}-admin` });
    admin = plain.admin();
    await admin.connect();
    producer = plain.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await stack.stop();
  });

  it("counts dead letters by group and reason, and reads each owned partition's lag from Kafka", async () => {
    const metrics = createMetrics({ service: "test", collectDefaults: false });
    const kafkaMetrics = createKafkaMetrics(metrics, { minIntervalMs: 0 });
    kafka = createKafka({
      brokers: stack.kafkaBrokers,
      clientId: ns.id,
      observer: kafkaMetrics.observer,
    });
    kafkaMetrics.attach(kafka);
    const topic = ns.topic("in");
    const dlq = ns.topic("dlq");
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 2, replicationFactor: 1 },
        { topic: dlq, numPartitions: 1, replicationFactor: 1 },
      ],
      waitForLeaders: true,
    });
    const groupId = ns.group("metrics");
    // "stuck" waits until released, so its partition's committed offset stays behind it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stuckPartition = partitionOfKey("stuck", 2);
    const other = ["a", "b", "c", "d", "e", "f"].find(
      (k) => partitionOfKey(k, 2) !== stuckPartition,
    );
    expect(other).toBeDefined();
    const runner = createConsumerRunner<string>({
      kafka,
      groupId,
      topics: [topic],
      deadLetterTopic: dlq,
      commitIntervalMs: 50,
      decode: (record) => record.value?.toString() ?? "",
      handle: async ({ value }) => {
        if (value.startsWith("poison")) throw new PoisonRecordError(`cannot read ${value}`);
        if (value.startsWith("stuck")) await released;
      },
    });
    await runner.start();
    const scrape = async (): Promise<string> => {
      await kafkaMetrics.refresh();
      return metrics.metrics();
    };
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: other ?? "", value: "poison-1" },
          { key: other ?? "", value: "poison-2" },
          { key: other ?? "", value: "fine" },
          ...Array.from({ length: 5 }, (_, i) => ({ key: "stuck", value: `stuck-${String(i)}` })),
        ],
      });

      const stuckLag = { group: groupId, topic, partition: String(stuckPartition) };
      const otherLag = { group: groupId, topic, partition: String(1 - stuckPartition) };
      await waitFor(
        async () => {
          const text = await scrape();
          const dead = valueOf(text, "parley_kafka_dead_letters_total", {
            group: groupId,
            reason: "PoisonRecordError",
          });
          // The five records behind "stuck" are uncommitted; the other partition is done.
          return (
            dead === 2 &&
            valueOf(text, "parley_kafka_consumer_lag_records", stuckLag) === 5 &&
            valueOf(text, "parley_kafka_consumer_lag_records", otherLag) === 0
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          description: "2 dead letters and a lag of 5 behind the stuck key",
        },
      );
      expect(await scrape()).toContain(`topic="${topic}"`);

      release();
      await waitFor(
        async () => valueOf(await scrape(), "parley_kafka_consumer_lag_records", stuckLag) === 0,
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          description: "the lag back to 0 once the key is released",
        },
      );
    } finally {
      release();
      await runner.stop();
    }
    // A stopped consumer owns nothing: its series go, rather than freeze at their last value.
    const after = await scrape();
    expect(after).not.toContain(`parley_kafka_consumer_lag_records{`);
    expect(valueOf(after, "parley_kafka_offset_reads_failed_total", {})).toBe(0);
    await kafkaMetrics.close();
  });

  it("counts every request the client's producers, consumers and admins send, by Kafka API", async () => {
    const metrics = createMetrics({ service: "test", collectDefaults: false });
    const kafkaMetrics = createKafkaMetrics(metrics, { minIntervalMs: 0 });
    const observed = createKafka({
      brokers: stack.kafkaBrokers,
      clientId: `${ns.id}-requests`,
      observer: kafkaMetrics.observer,
    });
    const topic = ns.topic("requests");
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const requests = async (api: string) =>
      valueOf(await metrics.metrics(), "parley_kafka_requests_total", { api }) ?? 0;

    const sender = observed.producer({ idempotent: true, maxInFlightRequests: 1 });
    await sender.connect();
    for (let i = 0; i < 3; i++) {
      await sender.send({ topic, messages: [{ key: "k", value: String(i) }] });
    }
    await sender.disconnect();
    // One Produce request per awaited send: the round trips, not the records.
    expect(await requests("Produce")).toBe(3);
    expect(await requests("Metadata")).toBeGreaterThan(0);

    const reader = observed.consumer({ groupId: `${ns.id}-requests` });
    await reader.connect();
    await reader.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await reader.run({
      eachMessage: () => {
        seen++;
        return Promise.resolve();
      },
    });
    await waitFor(() => seen === 3, { timeoutMs: 30_000, description: "the 3 records consumed" });
    await reader.disconnect();
    expect(await requests("Fetch")).toBeGreaterThan(0);
    expect(await requests("JoinGroup")).toBeGreaterThan(0);

    const observedAdmin = observed.admin();
    await observedAdmin.connect();
    const before = await requests("ListOffsets");
    await observedAdmin.fetchTopicOffsets(topic);
    await observedAdmin.disconnect();
    expect(await requests("ListOffsets")).toBeGreaterThan(before);
    expect(await requests("Produce")).toBe(3);
  });
});
