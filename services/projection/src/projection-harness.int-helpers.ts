import { createCatalog, type AnyEvent, type Catalog } from "@parley/contracts";
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
import { createMongo, STATE_DOCUMENT_FIELDS, type MongoConnection } from "@parley/mongo";
import { createLogger } from "@parley/telemetry";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { createLogOffsets } from "./adapters/kafka/log-offsets.js";
import { CONSUMER, groupOf, PROJECTION_TOPICS } from "./adapters/kafka/projection-consumer.js";
import { createMongoGenerationStore } from "./adapters/store/generation-store.js";
import { COLLECTION_KINDS, collectionsOf } from "./adapters/store/read-model-stores.js";
import {
  dropGeneration,
  startGeneration,
  type FillingGeneration,
  type GenerationRuntimeOptions,
} from "./generation-runtime.js";
import { partitionKey, type GenerationStore, type LogOffsets } from "./generations/ports.js";
import { rebuild, type RebuildOptions, type RebuildRequest } from "./generations/rebuild.js";

// The projection on the real broker, registry and MongoDB-wire server, as main.ts and the CLI
// compose it, with a producer of events (and of raw bytes, for hostile records) and a reader of
// the projection's dead-letter topic. One namespace per spec file.

export const PREFIX = "projection_";

export interface ProjectionHarness {
  readonly catalog: Catalog;
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly mongo: MongoConnection;
  readonly generations: GenerationStore;
  readonly offsets: LogOffsets;
  readonly runtime: GenerationRuntimeOptions;
  readonly topics: readonly string[];
  /** Every record on the projection's dead-letter topic. */
  readonly deadLetters: RawRecord[];
  /** Appends events to their topics, keyed as the catalog says, in the order given. */
  publish(events: readonly AnyEvent[]): Promise<void>;
  /** Appends raw bytes to a topic (a record no producer of ours would write). */
  publishRaw(topic: string, key: string, value: Buffer): Promise<void>;
  start(generation: number): Promise<FillingGeneration>;
  /** Until the generation's group has committed every partition's end (as it is now). */
  caughtUp(generation: number, timeoutMs?: number): Promise<void>;
  rebuild(
    request?: RebuildRequest,
    overrides?: Partial<RebuildOptions>,
  ): ReturnType<typeof rebuild>;
  /** Every read-model document of a generation (the store's bookkeeping left out), by collection. */
  dump(generation: number): Promise<Record<string, unknown[]>>;
  stop(): Promise<void>;
}

const BOOKKEEPING = new Set<string>(STATE_DOCUMENT_FIELDS.filter((f) => f !== "_id"));

export async function startProjectionHarness(label: string): Promise<ProjectionHarness> {
  const cleanups: (() => Promise<void>)[] = [];
  const stack: Stack = await startStack();
  cleanups.push(() => stack.stop());
  const ns = stack.namespace(label);
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 3, business: 2, raw: 2 },
  });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic(CONSUMER),
          catalog.deadLetterTopic(`${label}-dlq-reader`),
        ],
      }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  cleanups.push(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });
  const producer: EventProducer = createEventProducer({ kafka, serde, name: `${label} producer` });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const raw = kafka.producer();
  await raw.connect();
  cleanups.push(() => raw.disconnect());
  const offsets = createLogOffsets(kafka);
  cleanups.push(() => offsets.close());

  const deadLetters: RawRecord[] = [];
  const dlq: ConsumerRunner = createConsumerRunner<RawRecord>({
    kafka,
    groupId: ns.group("dlq-reader"),
    topics: [catalog.deadLetterTopic(CONSUMER).name],
    deadLetterTopic: catalog.deadLetterTopic(`${label}-dlq-reader`).name,
    fromBeginning: true,
    maxBytesPerPartition: catalog.deadLetterTopic(CONSUMER).maxRecordBytes,
    decode: (record) => record,
    handle: (record) => {
      deadLetters.push(record.value);
      return Promise.resolve();
    },
  });
  await dlq.start();
  cleanups.push(() => dlq.stop());

  const logger = createLogger({ service: label, level: "warn" });
  const generations = createMongoGenerationStore(mongo.db, PREFIX);
  const topics = PROJECTION_TOPICS.map((id) => catalog.topic(id).name);
  const runtime: GenerationRuntimeOptions = {
    kafka,
    serde,
    catalog,
    db: mongo.db,
    collectionPrefix: PREFIX,
    maxInFlight: 500,
    cacheSize: 1_000,
    maxBatchKeys: 200,
    logger,
  };
  const running: FillingGeneration[] = [];
  cleanups.push(async () => {
    for (const r of running) await r.stop().catch(() => undefined);
  });

  const caughtUp = async (generation: number, timeoutMs = 120_000) => {
    const ends = await offsets.ends(topics);
    await waitFor(
      async () => {
        const committed = await offsets.committed(groupOf(catalog, generation), topics);
        return ends.every(
          (e) =>
            e.high === e.low || (committed.get(partitionKey(e.topic, e.partition)) ?? -1) >= e.high,
        );
      },
      { timeoutMs, intervalMs: 250, description: `generation ${String(generation)} caught up` },
    );
  };

  return {
    catalog,
    kafka,
    serde,
    mongo,
    generations,
    offsets,
    runtime,
    topics,
    deadLetters,
    async publish(events) {
      for (const event of events) {
        const topic = catalog.topicOf(event.type);
        await producer.publish(topic, [{ key: topic.keyOf(event), event }]);
      }
    },
    async publishRaw(topic, key, value) {
      await raw.send({ topic, acks: -1, messages: [{ key, value }] });
    },
    async start(generation) {
      const filling = await startGeneration(runtime, generation);
      running.push(filling);
      return filling;
    },
    caughtUp,
    rebuild(request = {}, overrides = {}) {
      return rebuild(
        {
          generations,
          offsets,
          topics,
          groupOf: (n) => groupOf(catalog, n),
          build: async (n, stopAt) => {
            const filling = await startGeneration(runtime, n, stopAt);
            running.push(filling);
            return filling;
          },
          drop: (n) =>
            dropGeneration({ db: mongo.db, catalog, collectionPrefix: PREFIX, offsets }, n),
          progressEveryMs: 250,
          catchUpRecords: 0,
          ...overrides,
        },
        request,
      );
    },
    async dump(generation) {
      const collections = collectionsOf(PREFIX, generation);
      const out: Record<string, unknown[]> = {};
      for (const kind of COLLECTION_KINDS) {
        if (kind === "marks") continue;
        const docs = await mongo.db.collection(collections[kind]).find({}).toArray();
        out[kind] = docs
          .map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !BOOKKEEPING.has(k))))
          .sort((a, b) => (String(a["_id"]) < String(b["_id"]) ? -1 : 1));
      }
      return out;
    },
    async stop() {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}
