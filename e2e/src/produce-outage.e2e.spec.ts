import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCatalog, createEvent, headerNames, type TopicSpec } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type EventProducer,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import { infra, ownBroker, repoRoot } from "./processes.js";

// Issue 32, "a produce path that cannot lose silently": the broker dies under a producer and
// comes back. Publishes made meanwhile fail with an outage (the caller waits it out, as the
// consumer runner does), the producer's health says "failing" with the reason while fresh
// producers fail too, and "ok" again after the first acknowledged produce; afterwards every
// record is on the topic, and the records sent after the outage exactly once. The spec runs its
// own broker (profile e2e-produce-outage, own ports), so killing it disturbs no other suite.
const broker = ownBroker("e2e-produce-outage", "E2E_PRODUCE_", 29392);
const kafkaEnv = broker.env;
const brokers = [...broker.brokers];

let stack: Stack;
let serde: Serde;
let kafka: KafkaClient;
let topic: TopicSpec;
let producer: EventProducer;

beforeAll(async () => {
  stack = await startStack();
  await infra(["start", "kafka"], kafkaEnv, broker.variables);
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const catalog = createCatalog({ prefix: `${stack.namespace("produce-outage").id}.` });
  topic = catalog.topic("consent");
  kafka = createKafka({ brokers, clientId: "e2e-produce-outage" });
  await provisionTopics({ kafka, topics: [topic], serde });
  producer = createEventProducer({
    kafka,
    serde,
    name: "outage",
    recovery: { attempts: 2, initialDelayMs: 200, maxDelayMs: 1_000 },
  });
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect().catch(() => undefined);
  await infra(["stop", "kafka"], kafkaEnv, broker.variables);
  await stack.stop();
});

const revoked = (n: number) => {
  const contactId = `5511988${String(100_000 + (n % 12))}`;
  return createEvent(
    "ConsentRevoked",
    {
      contactId,
      scope: "all",
      channel: "whatsapp",
      source: "keyword",
      evidence: { text: `#${String(n)}` },
    },
    { correlationId: `corr-outage-${String(n)}`, now: new Date() },
  );
};
type Revoked = ReturnType<typeof revoked>;
const publish = (event: Revoked) => producer.publish(topic, [{ key: event.data.contactId, event }]);

/** Publishes `event` until it is acknowledged, waiting out outages as the consumer runner does. */
async function publishThroughOutage(event: Revoked, outages: { count: number }): Promise<void> {
  for (;;) {
    try {
      await publish(event);
      return;
    } catch (error) {
      expect(error).toMatchObject({ retry: "outage" });
      outages.count++;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const state = () => kafka.health.entries().find((e) => e.name === "producer outage");

async function eventIdsOnTopic(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic.name)).reduce(
    (n, p) => n + Number(p.high) - Number(p.low),
    0,
  );
  await admin.disconnect();
  const ids: string[] = [];
  const consumer = kafka.consumer({ groupId: `e2e-produce-outage-reader-${String(Date.now())}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      ids.push(message.headers?.[headerNames.eventId]?.toString() ?? "");
      return Promise.resolve();
    },
  });
  await waitFor(() => ids.length >= total, {
    timeoutMs: 60_000,
    description: `${String(total)} records`,
  });
  await consumer.disconnect();
  return ids;
}

describe("a producer whose broker dies and comes back", () => {
  const before = Array.from({ length: 50 }, (_, n) => revoked(n));
  const during = Array.from({ length: 50 }, (_, n) => revoked(100 + n));
  const after = Array.from({ length: 50 }, (_, n) => revoked(200 + n));

  it("delivers before the outage", async () => {
    await Promise.all(before.map(publish));
    expect(state()?.state).toBe("ok");
  });

  it("reports failing during the outage, ok after it, and loses nothing", async () => {
    const pid = Number(
      readFileSync(join(repoRoot, ".parley", kafkaEnv.PARLEY_PROFILE, "run", "kafka.pid"), "utf8"),
    );
    process.kill(pid, "SIGKILL");
    const outages = { count: 0 };
    const delivering = Promise.all(during.map((e) => publishThroughOutage(e, outages)));
    await waitFor(() => state()?.state === "failing", {
      timeoutMs: 120_000,
      description: "the producer reported failing",
    });
    const failing = state();
    expect(failing?.reason).toMatch(
      /KafkaJS(Connection|NumberOfRetries|RequestTimeout)|ECONNREFUSED|outage|produce failed/,
    );
    console.log(`[produce-outage] while the broker was dead: ${failing?.reason ?? ""}`);
    // The broker stays dead until a publish has been refused as an outage: a restart within the
    // client's own retries would hide the refusal this test is about.
    await waitFor(() => outages.count > 0, {
      timeoutMs: 120_000,
      description: "a publish refused as an outage",
    });

    await infra(["start", "kafka"], { ...kafkaEnv, KAFKA_KEEP_DATA: "1" }, broker.variables);
    await delivering;
    expect(outages.count).toBeGreaterThan(0);
    expect(state()?.state).toBe("ok");

    await Promise.all(after.map(publish));
    const ids = await eventIdsOnTopic();
    const lost = [...before, ...during, ...after].filter((e) => !ids.includes(e.eventId));
    expect(lost.map((e) => e.data.evidence?.text)).toEqual([]);
    for (const e of after) expect(ids.filter((id) => id === e.eventId)).toHaveLength(1);
    console.log(
      `[produce-outage] ${String(ids.length)} records for ${String(before.length + during.length + after.length)} events; ${String(outages.count)} outage rejections waited out; ${String(producer.generation)} kafkajs producers used`,
    );
  });
});
