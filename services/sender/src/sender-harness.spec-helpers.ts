import {
  createSimulator,
  serveSimulator,
  type Simulator,
  type SimulatorServer,
} from "@parley/cloud-api-sim";
import {
  createCatalog,
  type AnyEvent,
  type Catalog,
  type EventData,
  type EventOf,
  type TopicId,
} from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  KeyedQueue,
  partitionOfKey,
  provisionTopics,
  type ConsumerRunner,
  type EventProducer,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { parseNumberDirectory } from "@parley/numbers";
import { createLogger, createMetrics, type Metrics } from "@parley/telemetry";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createGraph } from "./adapters/graph/graph.js";
import { createTokenFiles } from "./adapters/secrets/token-files.js";
import {
  createSenderConsumers,
  SENDER_DISPATCH_CONSUMER,
  SENDER_GATES_CONSUMER,
  SENDER_NUMBERS_CONSUMER,
  SENDER_STATUSES_CONSUMER,
} from "./adapters/kafka/consumers.js";
import { createDispatchTopicAdmin } from "./adapters/kafka/dispatch-topic.js";
import { createMongoAttemptStore } from "./adapters/store/attempt-store.js";
import { createMongoGateStore } from "./adapters/store/gate-store.js";
import { createMongoParkStore } from "./adapters/store/park-store.js";
import { createMongoThroughputStore } from "./adapters/store/throughput-store.js";
import { createSenderMetrics } from "./metrics.js";
import { dispatchMessage } from "./sending/fixtures.spec-helpers.js";
import { createSender, type Sender, type SenderSettings } from "./sending/sender.js";

// The sender against the real broker, registry and MongoDB, calling the Cloud API simulator.
export const WABA = "102290129340398";
export const FAST = "106540352240001"; // 1,000 msg/s
export const SLOW = "106540352240002"; // 80 msg/s
export const BROKEN = "106540352240003"; // its token is refused (190)
// 20 msg/s; on the dispatch partition of SLOW and BROKEN (partition 0 of 2), not FAST's.
export const HOT = "106540352240005";
// No configured mps: its cap is Meta's level (STANDARD 80 until the simulator upgrades it).
export const GROW = "106540352240006";
export const READER = "sender-test-reader";
/** Its token is in a file (`tokenFile`), rotated by a test as a secret manager's agent would. */
export const ROTATING = "106540352240007";
export let tokenFile: string;

/** Writes a token file the way a rotation tool does: a new file renamed over the old one. */
export function rotateTokenFile(content: string): void {
  const tmp = `${tokenFile}.${String(Math.random()).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, tokenFile);
}

export let stack: Stack;
export let catalog: Catalog;
export let kafka: KafkaClient;
export let serde: Serde;
export let mongo: MongoConnection;
export let producer: EventProducer;
export let reader: ConsumerRunner;
export let sim: Simulator;
export let simServer: SimulatorServer;
export let sender: Sender<ReturnType<typeof createSenderConsumers>>;
export let metrics: Metrics;
/** A new sender instance (after the previous one stopped), as a restart would make. */
export let startSender: (overrides?: Partial<SenderSettings>) => Promise<void>;
export const outcomes: AnyEvent[] = [];
const cleanups: (() => Promise<void>)[] = [];

const settings: SenderSettings = {
  // Replaced by the simulator's address once it listens (any free port).
  WA_GRAPH_BASE_URL: "http://127.0.0.1:0",
  WA_GRAPH_VERSION: "v23.0",
  // Under the simulator's hang fault (8 s), but long enough that a loaded CI machine (the
  // simulator shares this process) does not turn slow answers into in-doubt sends.
  SENDER_GRAPH_TIMEOUT_MS: 6_000,
  SENDER_GRAPH_CONNECTIONS: 64,
  SENDER_MAX_IN_FLIGHT: 3_000,
  SENDER_ADMIT_AHEAD_MS: 500,
  // The simulator counts the cap at receipt, on this process's event loop, which the broker,
  // registry and MongoDB sharing two cores can deschedule for tens of milliseconds: a stall
  // stamps a burst of arrivals at once. The sender's rate log is causal (ADR 0006), so the
  // configured defaults hold the cap there anyway; no margin is widened for this test.
  SENDER_RATE_MARGIN_MS: 2,
  SENDER_RATE_MARGIN_MAX_MS: 50,
  SENDER_RATE_MARGIN_RELAX_MS: 600_000,
  SENDER_RATE_SMOOTHING_MS: 20,
  SENDER_PAIR_MAX_BACKOFF_MS: 60_000,
  SENDER_NUMBER_MAX_BACKOFF_MS: 60_000,
  SENDER_RETRY_ATTEMPTS: 4,
  SENDER_RETRY_INITIAL_MS: 200,
  SENDER_RETRY_MAX_MS: 2_000,
  SENDER_MAX_PACED_ATTEMPTS: 6,
  SENDER_IN_DOUBT_TIMEOUT_MS: 60_000,
  SENDER_IN_DOUBT_SWEEP_MS: 1_000,
  SENDER_PAUSE_PROBE_MS: 1_000,
  SENDER_PARK_SWEEP_MS: 500,
  SENDER_PARK_ABOVE: 500,
  SENDER_STORE_READ_BOUND_MS: 10_000,
  SENDER_WINDOW_RECHECK_MS: 100,
  SENDER_GATE_RECHECK_AFTER_MS: 1_000,
  SENDER_THROUGHPUT_REFRESH_MS: 0,
  SENDER_TOKEN_CHECK_MS: 0,
  SENDER_TOKEN_FILE_POLL_MS: 0,
  SENDER_TOKEN_EXPIRY_WARN_DAYS: 14,
};

export const template = {
  type: "template" as const,
  template: { name: "order_update", language: { code: "en" } },
};

export function dispatch(
  number: string,
  requestId: string,
  to: string,
  content: EventData<"DispatchMessage">["content"] = template,
  extra: Partial<EventData<"DispatchMessage">> = {},
): EventOf<"DispatchMessage"> {
  return dispatchMessage(number, requestId, to, { content, ...extra });
}

/**
 * Publishes in small chunks with a turn of the event loop between them: encoding is synchronous
 * and the simulator shares this process, so one large chunk would stall it and make it stamp a
 * burst of arrivals at once (counted over the cap at receipt).
 */
export async function publish(events: readonly AnyEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const chunk = events.slice(i, i + 50);
    const topic = catalog.topicOf(chunk[0]?.type ?? "DispatchMessage");
    await producer.publish(
      topic,
      chunk.map((event) => ({ key: topic.keyOf(event), event })),
    );
  }
}

export const outcomeOf = (requestId: string) =>
  outcomes.filter((o) => (o.data as { requestId?: string }).requestId === requestId);
export const terminal = (requestId: string) =>
  outcomeOf(requestId).find((o) => o.type !== "SendInDoubt");
export async function settled(requestIds: readonly string[], timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  const progress = setInterval(() => {
    if (process.env["SENDER_TEST_PROGRESS"])
      console.log(
        Date.now() - t0,
        requestIds.filter((id) => terminal(id) !== undefined).length,
        sim
          .stats()
          .map((s) => `${s.phoneNumberId}:${s.accepted}`)
          .join(" "),
        sender.dispatch.stats,
      );
  }, 2_000);
  await waitFor(() => requestIds.every((id) => terminal(id) !== undefined), {
    timeoutMs,
    intervalMs: 100,
    description: `${requestIds.length} outcomes`,
  }).finally(() => {
    clearInterval(progress);
  });
}
export const callsTo = (waId: string) => sim.messages({ to: waId });

/**
 * Waits until the sender's consumer `consumer` has committed everything on `topic` (its
 * committed offsets at the topic's end): what its records published is then on the topics.
 * Only for topics no transaction writes (a commit marker takes an offset no record has).
 */
export async function caughtUp(consumer: string, topic: TopicId, timeoutMs = 15_000) {
  const name = catalog.topic(topic).name;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const ends = await admin.fetchTopicOffsets(name);
        const [committed] = await admin.fetchOffsets({
          groupId: `${catalog.prefix}parley.${consumer}`,
          topics: [name],
        });
        const at = (partition: number) =>
          Math.max(
            0,
            Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? 0),
          );
        return ends.every((e) => at(e.partition) >= Number(e.high));
      },
      { timeoutMs, intervalMs: 100, description: `${consumer} caught up on ${name}` },
    );
  } finally {
    await admin.disconnect();
  }
}
/** Graph calls the sender recorded (before making them) for a request. */
export async function calls(requestId: string): Promise<number> {
  const doc = await mongo.db
    .collection<{ _id: string; calls: number }>("sender_attempts")
    .findOne({ _id: requestId });
  return doc?.calls ?? 0;
}

/**
 * The sender against the real broker, registry and MongoDB, calling the Cloud API simulator:
 * one namespace, one simulator and one sender per spec file that calls this at its top level.
 */
export function useSenderHarness(): void {
  beforeAll(async () => {
    stack = await startStack();
    cleanups.push(() => stack.stop());
    const ns = stack.namespace("sender");
    catalog = createCatalog({
      prefix: `${ns.id}.`,
      partitions: { contact: 3, business: 2, raw: 1 },
    });
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
    serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
    await waitFor(
      () =>
        provisionTopics({
          kafka,
          serde,
          topics: [
            ...catalog.topics,
            ...[
              SENDER_DISPATCH_CONSUMER,
              SENDER_GATES_CONSUMER,
              SENDER_STATUSES_CONSUMER,
              SENDER_NUMBERS_CONSUMER,
              READER,
            ].map((c) => catalog.deadLetterTopic(c)),
          ],
        }).then(() => true),
      { timeoutMs: 60_000, intervalMs: 500, description: "topics provisioned" },
    );
    mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
    cleanups.push(async () => {
      await mongo.db.dropDatabase();
      await mongo.close();
    });
    producer = createEventProducer({ kafka, serde, name: "test producer" });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    reader = createEventConsumer({
      kafka,
      serde,
      catalog,
      consumer: READER,
      topics: [catalog.topic("send-outcomes")],
      tuning: { fromBeginning: true },
      handle: (record) => {
        outcomes.push(record.value);
        return Promise.resolve();
      },
    });
    await reader.start();
    cleanups.push(() => reader.stop());

    sim = createSimulator({
      seed: "sender-int",
      accessTokens: [{ token: "good-token" }],
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: [
            { id: FAST, displayPhoneNumber: "15550000001", highThroughput: true },
            { id: SLOW, displayPhoneNumber: "15550000002" },
            { id: BROKEN, displayPhoneNumber: "15550000003" },
            { id: HOT, displayPhoneNumber: "15550000005" },
            { id: GROW, displayPhoneNumber: "15550000006" },
            { id: ROTATING, displayPhoneNumber: "15550000007" },
          ],
        },
      ],
      faults: { hangMs: 8_000 },
    });
    sim.addTemplate({
      wabaId: WABA,
      name: "order_update",
      language: "en",
      body: "Your order shipped",
    });
    sim.grantAccessToken({ token: "rotating-token-1" });
    const tokenDir = mkdtempSync(join(tmpdir(), "parley-sender-tokens-"));
    cleanups.push(() => {
      rmSync(tokenDir, { recursive: true, force: true });
      return Promise.resolve();
    });
    tokenFile = join(tokenDir, "rotating.token");
    rotateTokenFile("rotating-token-1\n");
    simServer = await serveSimulator(sim, { port: 0, host: "127.0.0.1" });
    cleanups.push(async () => {
      await simServer.close();
      await sim.stop();
    });
    const directory = parseNumberDirectory(
      {
        numbers: [
          { phoneNumberId: FAST, wabaId: WABA, mps: 1_000, accessToken: "good-token" },
          { phoneNumberId: SLOW, wabaId: WABA, mps: 80, accessToken: "good-token" },
          { phoneNumberId: BROKEN, wabaId: WABA, mps: 80, accessToken: "wrong-token" },
          { phoneNumberId: HOT, wabaId: WABA, mps: 20, accessToken: "good-token" },
          { phoneNumberId: GROW, wabaId: WABA, accessToken: "good-token" },
          { phoneNumberId: ROTATING, wabaId: WABA, mps: 80, accessTokenFile: tokenFile },
        ],
      },
      {},
    );
    startSender = async (overrides = {}) => {
      metrics = createMetrics({ service: "sender", collectDefaults: false });
      // Wired as main.ts wires it.
      const s = { ...settings, ...overrides, WA_GRAPH_BASE_URL: simServer.url };
      const logger = createLogger({ service: "sender", level: "error" });
      const dispatchTopic = catalog.topic("dispatch");
      // Token files re-read every SENDER_TOKEN_FILE_POLL_MS (0 here unless a test asks).
      const tokens = createTokenFiles(directory);
      sender = createSender({
        settings: s,
        directory,
        stores: {
          attempts: createMongoAttemptStore(mongo.db),
          gates: createMongoGateStore(mongo.db),
          parks: createMongoParkStore(mongo.db),
          throughput: createMongoThroughputStore(mongo.db),
        },
        graph: createGraph({
          directory,
          baseUrl: s.WA_GRAPH_BASE_URL,
          graphVersion: s.WA_GRAPH_VERSION,
          timeoutMs: s.SENDER_GRAPH_TIMEOUT_MS,
          connections: s.SENDER_GRAPH_CONNECTIONS,
          tokenOf: (n) => tokens.token(n),
        }),
        tokens,
        dispatchTopic: {
          name: dispatchTopic.name,
          partitions: dispatchTopic.partitions,
          admin: createDispatchTopicAdmin(kafka, dispatchTopic.name),
          partitionOf: partitionOfKey,
        },
        consumers: (handlers) =>
          createSenderConsumers({
            kafka,
            serde,
            catalog,
            logger,
            handlers,
            producer,
            tuning: { maxInFlight: s.SENDER_MAX_IN_FLIGHT },
          }),
        keyedRunner: () => new KeyedQueue(),
        observer: createSenderMetrics(metrics),
        logger,
      });
      await sender.start();
    };
    await startSender();
    cleanups.push(() => sender.stop());
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }, 60_000);
}
