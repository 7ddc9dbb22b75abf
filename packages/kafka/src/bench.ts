// Produce and consume throughput through Parley's Kafka layer against bare kafkajs, in the same
// run, on the same broker and registry. Bounded: RECORDS records per case, one run each.
//   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... node packages/kafka/dist/bench.js
// (bench/kafka.sh starts the servers, runs this, and stops them.)
import { performance } from "node:perf_hooks";
import { createCatalog, createEvent, type EventOf } from "@parley/contracts";
import { createKafka } from "./connection.js";
import { createEventConsumer } from "./event-consumer.js";
import { createEventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { createRegistry } from "./registry.js";
import { createSerde } from "./serde.js";

const RECORDS = Number(process.env["BENCH_RECORDS"] ?? "20000");
const BATCH = 100;
const KEYS = 200;
const brokers = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
const registryUrl = process.env["SCHEMA_REGISTRY_URL"] ?? "http://127.0.0.1:8081";

const run = `bench${Date.now().toString(36)}`;
const catalog = createCatalog({
  prefix: `${run}.`,
  partitions: { contact: 6, business: 6, raw: 1 },
});
const kafka = createKafka({ brokers, clientId: run });
const serde = createSerde({ registry: createRegistry({ url: registryUrl }) });
const layerTopic = catalog.topic("consent");
const bareTopic = `${run}.bare`;

const events: EventOf<"ConsentGranted">[] = Array.from({ length: RECORDS }, (_, i) =>
  createEvent(
    "ConsentGranted",
    {
      contactId: `55119${String(i % KEYS).padStart(8, "0")}`,
      scope: "marketing",
      channel: "web",
      source: "api",
    },
    { correlationId: `bench-${i}`, now: new Date() },
  ),
);

function deadline(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => {
      reject(new Error(`${what} took over ${ms} ms`));
    }, ms).unref(),
  );
}

async function timed(what: string, work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.race([work(), deadline(120_000, what)]);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`  ${what}: ${(RECORDS / seconds).toFixed(0)} records/s\n`);
  return RECORDS / seconds;
}

async function main(): Promise<void> {
  process.stderr.write(
    `setting up (${RECORDS} records, batches of ${BATCH}, ${KEYS} keys, 6 partitions)\n`,
  );
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: bareTopic, numPartitions: 6, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  await provisionTopics({ kafka, topics: [layerTopic, catalog.deadLetterTopic("bench")], serde });

  const bare = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await bare.connect();
  const producer = createEventProducer({ kafka, serde });
  await producer.connect();

  // Warm-up on other topics, so neither side pays for JIT compilation or first connections.
  const warm = createCatalog({
    prefix: `${run}.warm.`,
    partitions: { contact: 6, business: 6, raw: 1 },
  }).topic("consent");
  await provisionTopics({ kafka, topics: [warm], serde });
  for (let i = 0; i < Math.min(RECORDS, 2_000); i += BATCH) {
    const slice = events.slice(i, i + BATCH);
    await bare.send({
      topic: warm.name,
      acks: -1,
      messages: slice.map((e) => ({ key: e.data.contactId, value: JSON.stringify(e) })),
    });
    await producer.publish(
      warm,
      slice.map((e) => ({ key: e.data.contactId, event: e })),
    );
  }

  const bareProduce = await timed("produce, bare kafkajs (JSON)", async () => {
    for (let i = 0; i < RECORDS; i += BATCH) {
      const slice = events.slice(i, i + BATCH);
      await bare.send({
        topic: bareTopic,
        acks: -1,
        messages: slice.map((e) => ({ key: e.data.contactId, value: JSON.stringify(e) })),
      });
    }
  });
  await bare.disconnect();

  const layerProduce = await timed(
    "produce, Parley layer (zod + registry + trace headers)",
    async () => {
      for (let i = 0; i < RECORDS; i += BATCH) {
        await producer.publish(
          layerTopic,
          events.slice(i, i + BATCH).map((e) => ({ key: e.data.contactId, event: e })),
        );
      }
    },
  );
  await producer.disconnect();

  let bareSeen = 0;
  const bareConsumer = kafka.consumer({ groupId: `${run}.bare-reader` });
  const bareConsume = await timed("consume, bare kafkajs eachMessage (JSON.parse)", async () => {
    await bareConsumer.connect();
    await bareConsumer.subscribe({ topic: bareTopic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void bareConsumer.run({
        eachMessage: ({ message }) => {
          JSON.parse(message.value?.toString() ?? "null");
          if (++bareSeen === RECORDS) resolve();
          return Promise.resolve();
        },
      });
    });
  });
  await bareConsumer.disconnect();

  let layerSeen = 0;
  let done: () => void = () => undefined;
  const allSeen = new Promise<void>((resolve) => (done = resolve));
  const layerConsumer = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "bench",
    topics: [layerTopic],
    handle: () => {
      if (++layerSeen === RECORDS) done();
      return Promise.resolve();
    },
    tuning: { maxInFlight: Number(process.env["BENCH_MAX_IN_FLIGHT"] ?? "2000") },
  });
  const layerConsume = await timed(
    "consume, Parley runner (registry + zod + key-level concurrency)",
    async () => {
      await layerConsumer.start();
      await allSeen;
    },
  );
  await layerConsumer.stop();

  const row = (op: string, baseline: number, layer: number) =>
    `| ${op} | ${baseline.toFixed(0)} | ${layer.toFixed(0)} | ${(layer / baseline).toFixed(2)} |`;
  console.log(
    `\n| operation (${RECORDS} records) | bare kafkajs records/s | Parley layer records/s | layer / bare |`,
  );
  console.log("|---|---:|---:|---:|");
  console.log(row("produce (batches of 100, acks=all, idempotent)", bareProduce, layerProduce));
  console.log(row("consume (6 partitions, 200 keys, no-op handler)", bareConsume, layerConsume));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
