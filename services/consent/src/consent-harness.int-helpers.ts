import { randomBytes } from "node:crypto";
import { createCatalog, headerNames, type AnyEvent, type Catalog } from "@parley/contracts";
import {
  createConsumerRunner,
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type ConsumerRunner,
  type RawRecord,
} from "@parley/kafka";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { createLogger } from "@parley/telemetry";
import { startStack, waitFor } from "@parley/testkit";
import { createHash } from "node:crypto";
import type { Scope } from "./config.js";
import { createAuthenticator } from "@parley/runtime";
import { startConsentApiServer, type ConsentApiServer } from "./adapters/http/server.js";
import { CONSENT_CONSUMER, createConsentConsumer } from "./adapters/kafka/consumer.js";
import { createKeyStore } from "./adapters/store/key-store.js";
import { createLedgerReader, createLedgerStore } from "./adapters/store/ledger-store.js";
import { createSendLog } from "./adapters/store/send-log.js";
import { createKeyWrapper } from "./crypto/keys.js";
import type { LedgerEntry } from "./ledger/evolve.js";
import { createConsentLedger, type ConsentLedger } from "./ledger/ledger.js";

// The consent service on the real broker, registry and MongoDB-wire server, composed as main.ts
// composes it, with a producer of inputs (and raw bytes), a reader of the ledger entries it
// publishes and of its dead-letter topic, and API keys of every scope. One namespace per spec.

export const KEYS: Readonly<Record<string, readonly Scope[]>> = {
  "all-key": ["read", "evidence", "write", "export", "erase"],
  "read-key": ["read"],
  "write-key": ["write"],
};

export interface ConsentHarness {
  readonly catalog: Catalog;
  readonly mongo: MongoConnection;
  readonly ledger: ConsentLedger;
  readonly api: ConsentApiServer;
  readonly baseUrl: string;
  /** Every ledger entry published on the consent topic, in arrival order. */
  readonly published: LedgerEntry[];
  readonly deadLetters: RawRecord[];
  publish(events: readonly AnyEvent[]): Promise<void>;
  publishRaw(topic: string, key: string, value: Buffer): Promise<void>;
  /** fetch against the API with a key (by name in KEYS, or none). */
  call(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** Stops the consumer and starts another over a new ledger (empty cache), as a restart does. */
  restartConsumer(): Promise<void>;
  stop(): Promise<void>;
}

export const headerOf = (headers: RawRecord["headers"], name: string) => {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v)?.toString();
};
export const DLQ_REASON = headerNames.dlq.errorMessage;

export interface HarnessOptions {
  /** Called before each publish of ledger entries; throwing fails that publish (a broken broker). */
  readonly beforePublish?: (entries: readonly LedgerEntry[]) => void;
}

export async function startConsentHarness(
  label: string,
  { beforePublish }: HarnessOptions = {},
): Promise<ConsentHarness> {
  const cleanups: (() => Promise<void>)[] = [];
  const stack = await startStack();
  cleanups.push(() => stack.stop());
  const ns = stack.namespace(label);
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 2, business: 1, raw: 1 },
  });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const reader = `${label}-reader`;
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          catalog.topic("consent"),
          catalog.topic("send-outcomes"),
          catalog.deadLetterTopic(CONSENT_CONSUMER),
          catalog.deadLetterTopic(reader),
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
  const producer = createEventProducer({ kafka, serde, name: `${label} producer` });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const raw = kafka.producer();
  await raw.connect();
  cleanups.push(() => raw.disconnect());
  const logger = createLogger({ service: label, level: "warn" });
  const clock = () => new Date();

  const wrapper = createKeyWrapper([{ id: "m1", key: randomBytes(32) }]);
  const newLedger = () =>
    createConsentLedger({
      store: createLedgerStore({ db: mongo.db, clock }),
      reader: createLedgerReader({ db: mongo.db }),
      keys: createKeyStore({ db: mongo.db, wrapper, clock }),
      sends: createSendLog({ db: mongo.db }),
      publish: async (entries) => {
        beforePublish?.(entries);
        const topic = catalog.topic("consent");
        await producer.publishEncoded(
          topic,
          await Promise.all(
            entries.map((event) => producer.encode(topic, { key: topic.keyOf(event), event })),
          ),
        );
      },
      clock,
    });
  const ledger = newLedger();
  const runners: ConsumerRunner[] = [];
  const newConsumer = (forLedger: ConsentLedger) =>
    createConsentConsumer({
      kafka,
      serde,
      catalog,
      ledger: forLedger,
      logger,
      tuning: { fromBeginning: true, retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 200 } },
    });
  let consumer = newConsumer(ledger);
  const published: LedgerEntry[] = [];
  runners.push(
    createEventConsumer({
      kafka,
      serde,
      catalog,
      consumer: reader,
      topics: [catalog.topic("consent")],
      tuning: { fromBeginning: true },
      handle: (record) => {
        const event = record.value;
        if (
          event.type === "ConsentGranted" ||
          event.type === "ConsentRevoked" ||
          event.type === "ContactErased"
        )
          published.push(event);
        return Promise.resolve();
      },
    }),
  );
  const deadLetters: RawRecord[] = [];
  runners.push(
    createConsumerRunner<RawRecord>({
      kafka,
      groupId: ns.group("dlq-reader"),
      topics: [catalog.deadLetterTopic(CONSENT_CONSUMER).name],
      deadLetterTopic: catalog.deadLetterTopic(`${label}-dlq-reader`).name,
      fromBeginning: true,
      maxBytesPerPartition: catalog.deadLetterTopic(CONSENT_CONSUMER).maxRecordBytes,
      decode: (record) => record,
      handle: (record) => {
        deadLetters.push(record.value);
        return Promise.resolve();
      },
    }),
  );
  await consumer.start();
  for (const r of runners) await r.start();
  cleanups.push(async () => {
    await consumer.stop().catch(() => undefined);
    for (const r of runners) await r.stop().catch(() => undefined);
  });
  const api = await startConsentApiServer({
    host: "127.0.0.1",
    port: 0,
    ledger,
    authenticator: createAuthenticator({
      api: "consent",
      keys: Object.entries(KEYS).map(([id, scopes]) => ({
        id,
        keySha256: createHash("sha256").update(`secret-${id}`).digest("hex"),
        scopes: [...scopes],
      })),
    }),
    clock,
    maxBodyBytes: 65_536,
    logger,
  });
  cleanups.push(() => api.stop());
  const baseUrl = `http://127.0.0.1:${String(api.port)}`;

  return {
    catalog,
    mongo,
    ledger,
    api,
    baseUrl,
    published,
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
    call(path, { key = "all-key", headers, ...init } = {}) {
      return fetch(`${baseUrl}${path}`, {
        ...init,
        headers: {
          ...(key === null ? {} : { authorization: `Bearer secret-${key}` }),
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...(headers as Record<string, string> | undefined),
        },
      });
    },
    async restartConsumer() {
      await consumer.stop();
      consumer = newConsumer(newLedger());
      await consumer.start();
    },
    async stop() {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}
