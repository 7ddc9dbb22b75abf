import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCatalog, createEvent, type Catalog, type EventOf } from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type ConsumerRunner,
  type EventProducer,
  type KafkaClient,
  type OutgoingEvent,
  type Serde,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROUTER_INBOUND_CONSUMER } from "./adapters/kafka/raw-webhook-consumer.js";

// The router process is killed (SIGKILL) in the middle of a stream of 10,000 webhooks, then a
// new one takes over. Counted on the output topic: every inbound message is there, and any
// record repeated by the crash carries the same event id (consumers dedupe on it). The process
// runs from the build (make test builds first).
const main = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "main.js");

const WEBHOOKS = 10_000;
const RETRIES = 1_000; // of those, Meta's duplicate deliveries of earlier webhooks
const NUMBERS = ["106540352242901", "106540352242902", "106540352242903"];
const CONTACTS = 300;

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let producer: EventProducer;
let reader: ConsumerRunner;
const children: ChildProcess[] = [];
const inbound: EventOf<"InboundMessageReceived">[] = [];

const logs: string[] = [];

function startRouter(): { child: ChildProcess; exit: Promise<unknown> } {
  const log = join(tmpdir(), `${ns.id}-router-${logs.length + 1}.log`);
  logs.push(log);
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MONGO_URL: stack.mongoUrl,
      MONGO_DB: ns.database(),
      PARLEY_TOPIC_PREFIX: catalog.prefix,
      OPS_TOKEN: "crash-test-ops-token",
      HTTP_PORT: "0",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Always drained: an unread pipe would block the router once its buffer is full.
  const out = createWriteStream(log);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  children.push(child);
  const exit = new Promise((resolve) => child.once("exit", resolve));
  return { child, exit };
}

function webhook(n: number): EventOf<"RawWebhookReceived"> {
  const pnid = NUMBERS[n % NUMBERS.length] ?? "";
  const from = String(16505550000 + ((n * 7) % CONTACTS));
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "waba-crash",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "1555", phone_number_id: pnid },
              contacts: [{ profile: { name: "c" }, wa_id: from }],
              messages: [
                {
                  from,
                  id: `wamid.crash.${n}`,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: "text",
                  text: { body: `message ${n}` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
  const deliveryId = `crash-delivery-${n}-${Math.random().toString(36).slice(2)}`;
  return createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: Buffer.from(body).toString("base64"),
      signature: "sha256=unchecked",
      sizeBytes: body.length,
      phoneNumberIds: [pnid],
      wabaIds: ["waba-crash"],
    },
    { correlationId: deliveryId, now: new Date() },
  );
}

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`build the router first (pnpm exec tsc -b): ${main}`);
  stack = await startStack();
  ns = stack.namespace("router-crash");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 2, raw: 3 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  // Creating many topics at once can outlast kafkajs's leader wait on a busy broker; provisioning
  // is idempotent, so it is simply tried again.
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER),
          catalog.deadLetterTopic("crash-reader"),
        ],
      }).then(() => true),
    { timeoutMs: 60_000, intervalMs: 500, description: "topics provisioned" },
  );
  producer = createEventProducer({ kafka, serde });
  await producer.connect();
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "crash-reader",
    topics: [catalog.topic("inbound-messages")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      inbound.push(record.value);
      return Promise.resolve();
    },
  });
  await reader.start();
}, 240_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  // The native MongoDB stand-in keeps everything in memory: leave nothing behind.
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await mongo.db.dropDatabase();
  await mongo.close();
  await reader.stop();
  await producer.disconnect();
  await stack.stop();
});

describe("router inbound: killed mid-stream", () => {
  it(
    "loses nothing and repeats nothing new across a SIGKILL and a takeover",
    { timeout: 420_000 },
    async () => {
      const topic = catalog.topic("raw-webhooks");
      const records: OutgoingEvent[] = [];
      const append = (raw: EventOf<"RawWebhookReceived">) =>
        records.push({ key: topic.keyOf(raw), event: raw });
      for (let n = 0; n < WEBHOOKS - RETRIES; n++) {
        append(webhook(n));
        // Meta's retries: an earlier webhook again under a new delivery id, after the original.
        if (n % 9 === 8) append(webhook((n * 31) % (n + 1)));
      }
      expect(records).toHaveLength(WEBHOOKS);
      for (let i = 0; i < records.length; i += 500) {
        await producer.publish(topic, records.slice(i, i + 500));
      }

      const first = startRouter();
      await waitFor(() => inbound.length >= 2_000, {
        timeoutMs: 120_000,
        description: "2,000 inbound events before the kill",
      });
      first.child.kill("SIGKILL");
      await first.exit;
      const killedAt = inbound.length;

      const second = startRouter();
      const distinct = () => new Set(inbound.map((e) => e.data.wamid)).size;
      await waitFor(() => distinct() === WEBHOOKS - RETRIES, {
        timeoutMs: 240_000,
        description: `${WEBHOOKS - RETRIES} distinct inbound messages (router logs: ${logs.join(", ")})`,
      });
      second.child.kill("SIGTERM");
      await second.exit;

      // Nothing lost: every message once by wamid. Anything on the wire twice is the same event.
      const byWamid = new Map<string, Set<string>>();
      for (const e of inbound) {
        const ids = byWamid.get(e.data.wamid) ?? new Set<string>();
        ids.add(e.eventId);
        byWamid.set(e.data.wamid, ids);
      }
      expect(byWamid.size).toBe(WEBHOOKS - RETRIES);
      expect([...byWamid.values()].every((ids) => ids.size === 1)).toBe(true);
      const repeatedOnWire = inbound.length - byWamid.size;
      // At most the handful in flight at the kill; Meta's 1,000 retries add none.
      expect(repeatedOnWire).toBeLessThan(RETRIES / 4);
      console.info(
        `crash test: killed after ${killedAt} events, ${inbound.length} records for ${byWamid.size} messages (${repeatedOnWire} repeated on the wire with the same event id)`,
      );
      // Per-contact order: for each (business number, contact), first appearances follow the
      // order in which the webhooks were appended to the raw topic.
      const firstSeen = new Set<string>();
      const last = new Map<string, number>();
      let outOfOrder = 0;
      for (const e of inbound) {
        if (firstSeen.has(e.eventId)) continue;
        firstSeen.add(e.eventId);
        const key = `${e.businessNumber ?? ""}:${e.data.contactId}`;
        const n = Number(e.data.wamid.split(".").pop());
        if (n < (last.get(key) ?? -1)) outOfOrder++;
        last.set(key, n);
      }
      expect(outOfOrder).toBe(0);
    },
  );
});
