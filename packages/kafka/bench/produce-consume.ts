// Produce and consume throughput through Parley's Kafka layer against bare kafkajs, in the same
// run, on the same broker and registry. Bounded: RECORDS records per case, one run each.
//   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... node packages/kafka/dist/bench.js
// (bench/kafka.sh starts the servers, runs this, and stops them.)
import { performance } from "node:perf_hooks";
import { createCatalog, createEvent, type EventOf } from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";

const RECORDS = Number(process.env["BENCH_RECORDS"] ?? "20000");
const BATCH = 100;
const KEYS = 200;
// The single-record case: many callers at once, each publishing one record per call (a send API
// or client under load), where the layer's group commit shares produce requests between calls.
const SINGLES = Math.min(RECORDS, Number(process.env["BENCH_SINGLE_RECORDS"] ?? "4000"));
const CALLERS = Number(process.env["BENCH_CALLERS"] ?? "64");
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

async function timed(
  what: string,
  work: () => Promise<void>,
  records: number = RECORDS,
): Promise<number> {
  const started = performance.now();
  await Promise.race([work(), deadline(120_000, what)]);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`  ${what}: ${(records / seconds).toFixed(0)} records/s\n`);
  return records / seconds;
}

/** Runs `send(i)` for i in [0, count) from CALLERS concurrent callers, one record per call. */
async function concurrently(count: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const caller = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await send(i);
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
}

async function main(): Promise<void> {
  process.stderr.write(
    `setting up (${RECORDS} records, batches of ${BATCH}, ${KEYS} keys, 6 partitions)\n`,
  );
  // The single-record case gets topics of its own, so the consume cases read RECORDS exactly.
  const singles = createCatalog({
    prefix: `${run}.singles.`,
    partitions: { contact: 6, business: 6, raw: 1 },
  }).topic("consent");
  const bareSingles = `${run}.bare-singles`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [bareTopic, bareSingles].map((topic) => ({
      topic,
      numPartitions: 6,
      replicationFactor: 1,
    })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  await provisionTopics({
    kafka,
    topics: [layerTopic, singles, catalog.deadLetterTopic("bench")],
    serde,
  });

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
  const bareSingle = await timed(
    `produce one record per call, ${String(CALLERS)} callers, bare kafkajs`,
    () =>
      concurrently(SINGLES, async (i) => {
        const e = events[i];
        if (e === undefined) return;
        await bare.send({
          topic: bareSingles,
          acks: -1,
          messages: [{ key: e.data.contactId, value: JSON.stringify(e) }],
        });
      }),
    SINGLES,
  );
  await bare.disconnect();

  const layerSingle = await timed(
    `produce one record per call, ${String(CALLERS)} callers, Parley layer (group commit)`,
    () =>
      concurrently(SINGLES, async (i) => {
        const e = events[i];
        if (e === undefined) return;
        await producer.publish(singles, [{ key: e.data.contactId, event: e }]);
      }),
    SINGLES,
  );

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
  console.log(
    row(
      `produce one record per call, ${String(CALLERS)} callers at once (${String(SINGLES)} records)`,
      bareSingle,
      layerSingle,
    ),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
