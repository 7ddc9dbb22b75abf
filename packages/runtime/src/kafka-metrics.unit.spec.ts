import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { createKafka, type KafkaObserver } from "@parley/kafka";
import { createMetrics } from "@parley/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafkaMetrics } from "./kafka-metrics.js";

type Consumer = Parameters<NonNullable<KafkaObserver["consumerCreated"]>>[1];

/** A broker that accepts connections and never answers: a scrape must not wait on it. */
let silent: Server;
const sockets: Socket[] = [];
let broker = "";

beforeAll(async () => {
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  broker = `127.0.0.1:${String((silent.address() as AddressInfo).port)}`;
});
afterAll(() => {
  for (const s of sockets) s.destroy();
  silent.close();
});

/** kafkajs's consumer as far as the observer uses it: its instrumentation events. */
function consumerWithEvents() {
  const listeners = new Map<string, (event: unknown) => void>();
  const consumer = {
    events: { GROUP_JOIN: "consumer.group_join", STOP: "consumer.stop", CRASH: "consumer.crash" },
    on(name: string, listener: (event: unknown) => void) {
      listeners.set(name, listener);
      return () => listeners.delete(name);
    },
  };
  return {
    consumer: consumer as unknown as Consumer,
    emit: (name: string, payload: unknown) => listeners.get(name)?.({ payload }),
  };
}

describe("the chassis's Kafka series when the broker does not answer", () => {
  it("bounds the lag read, counts the failure and shows no stale lag", async () => {
    const metrics = createMetrics({ service: "test", collectDefaults: false });
    const kafkaMetrics = createKafkaMetrics(metrics, { timeoutMs: 500, minIntervalMs: 60_000 });
    const kafka = createKafka({
      brokers: [broker],
      clientId: "lag-test",
      observer: kafkaMetrics.observer,
    });
    kafkaMetrics.attach(kafka);
    const { consumer, emit } = consumerWithEvents();
    kafkaMetrics.observer.consumerCreated?.("parley.router-inbound", consumer);
    emit("consumer.group_join", { memberAssignment: { "parley.raw-webhooks": [0, 1] } });
    kafkaMetrics.observer.deadLettered?.({
      groupId: "parley.router-inbound",
      topic: "parley.raw-webhooks",
      reason: "PoisonRecordError",
    });

    const started = Date.now();
    await kafkaMetrics.refresh();
    expect(Date.now() - started).toBeLessThan(2_000);
    // A second scrape within minIntervalMs reuses the last read rather than trying again.
    await kafkaMetrics.refresh();
    const text = await metrics.metrics();
    expect(text).toContain('parley_kafka_offset_reads_failed_total{service="test"} 1');
    expect(text).not.toMatch(/^parley_kafka_consumer_lag_records\{/m);
    expect(text).toContain(
      'parley_kafka_dead_letters_total{group="parley.router-inbound",topic="parley.raw-webhooks",reason="PoisonRecordError",service="test"} 1',
    );
    await kafkaMetrics.close();
  });

  it("reads nothing while no consumer owns a partition (stopped, crashed or not joined)", async () => {
    const metrics = createMetrics({ service: "test", collectDefaults: false });
    const kafkaMetrics = createKafkaMetrics(metrics, { timeoutMs: 500, minIntervalMs: 0 });
    const kafka = createKafka({
      brokers: [broker],
      clientId: "lag-test-2",
      observer: kafkaMetrics.observer,
    });
    kafkaMetrics.attach(kafka);
    const { consumer, emit } = consumerWithEvents();
    kafkaMetrics.observer.consumerCreated?.("g", consumer);
    await kafkaMetrics.refresh(); // not joined yet
    emit("consumer.group_join", { memberAssignment: { t: [0] } });
    emit("consumer.crash", {});
    await kafkaMetrics.refresh(); // crashed: owns nothing
    expect(await metrics.metrics()).toContain(
      'parley_kafka_offset_reads_failed_total{service="test"} 0',
    );
    await kafkaMetrics.close();
  });
});
