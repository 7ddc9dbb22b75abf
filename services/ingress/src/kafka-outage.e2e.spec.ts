import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimulator, type Simulator } from "@parley/cloud-api-sim";
import { createCatalog, type EventOf, type TopicSpec } from "@parley/contracts";
import {
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import {
  freePort,
  infra,
  ownBroker,
  repoRoot,
  startService,
  stopService,
  type ServiceProcess,
} from "@parley/e2e";
import { startStack, waitFor, type Stack } from "@parley/testkit";

// Must-show of ingress: with the broker dead every webhook gets 503 (never 200) and ingress keeps
// running; once the broker is back, Meta's (the simulator's) retries are all appended, once each.
// The built service runs as a process against its own broker (profile e2e-ingress, own ports),
// so killing that broker disturbs no other suite; the registry comes from the shared stack.
const SECRET = "e2e-ingress-app-secret";
const OPS_TOKEN = "e2e-ingress-ops-token";
const broker = ownBroker("e2e-ingress", "E2E_INGRESS_", 29192);
const kafkaEnv = broker.env;
const brokers = [...broker.brokers];

let stack: Stack;
let raw: TopicSpec;
let serde: Serde;
let ingress: ServiceProcess | undefined;
let sim: Simulator | undefined;
let opsUrl = "";
/** The wamids of the webhooks sent while the broker was dead. */
const outage: string[] = [];

const provision = async (): Promise<void> => {
  const kafka = createKafka({ brokers, clientId: "e2e-ingress-provision" });
  await provisionTopics({ kafka, topics: [raw], serde });
};

/** Reads the whole raw topic of the current broker: the wamids of the webhooks it holds. */
async function wamidsOnRawTopic(): Promise<string[]> {
  const kafka: KafkaClient = createKafka({ brokers, clientId: "e2e-ingress-reader" });
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(raw.name)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const wamids: string[] = [];
  if (total === 0) return wamids;
  const consumer = kafka.consumer({ groupId: `e2e-ingress-reader-${String(Date.now())}` });
  await consumer.connect();
  await consumer.subscribe({ topic: raw.name, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = (await serde.decode(raw, message.value)) as EventOf<"RawWebhookReceived">;
      const body = Buffer.from(event.data.bodyBase64, "base64").toString("utf8");
      wamids.push(...(body.match(/wamid\.[A-Za-z0-9=_-]+/g) ?? []));
      seen++;
    },
  });
  await waitFor(() => seen >= total, { timeoutMs: 60_000, description: `${total} raw records` });
  await consumer.disconnect();
  return wamids;
}

const readiness = async (): Promise<number> =>
  (await fetch(`${opsUrl}/readyz`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })).status;

/** One series of ingress's metrics (summed over its labels), e.g. webhook_appends_in_flight. */
async function metric(name: string, labels = ""): Promise<number> {
  const text = await (
    await fetch(`${opsUrl}/metrics`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })
  ).text();
  return text
    .split("\n")
    .filter((l) => new RegExp(`^\\w*${name}(\\{[^}]*${labels}[^}]*\\})? `).test(l))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

const outcomesOf = (wamid: string): (number | string)[] =>
  (sim?.webhookDeliveries() ?? [])
    .filter((d) => JSON.stringify(d.payload).includes(wamid))
    .map((d) => d.outcome);

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("ingress-outage");
  raw = createCatalog({ prefix: `${ns.id}.`, partitions: { raw: 1 } }).topic("raw-webhooks");
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await infra(["start", "kafka"], kafkaEnv, broker.variables);
  await provision();

  const [httpPort, webhookPort] = [await freePort(), await freePort()];
  opsUrl = `http://127.0.0.1:${httpPort}`;
  ingress = startService(
    "ingress",
    httpPort,
    {
      KAFKA_BROKERS: brokers.join(","),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MONGO_URL: stack.mongoUrl,
      PARLEY_TOPIC_PREFIX: `${ns.id}.`,
      WEBHOOK_PORT: String(webhookPort),
      OPS_TOKEN,
      WA_APP_SECRET: SECRET,
      WA_VERIFY_TOKEN: "e2e-ingress-verify",
      WEBHOOK_APPEND_TIMEOUT_MS: "1500",
      LOG_LEVEL: "info",
    },
    join(repoRoot, ".parley", "e2e-ingress", "logs"),
  );
  await waitFor(async () => (await readiness().catch(() => 0)) === 200, {
    timeoutMs: 120_000,
    description: "ingress ready",
  });

  sim = createSimulator({
    appSecret: SECRET,
    webhookUrls: [`http://127.0.0.1:${webhookPort}/webhooks/whatsapp`],
    // Meta's schedule, compressed: retries every second or two for a minute.
    webhooks: { retryDelaysMs: [0, 250, 500, ...Array<number>(60).fill(1_500)], retryTimeScale: 1 },
  });
  for (let i = 0; i < 5; i++)
    sim.addUser({ waId: `1650555000${String(i)}`, name: `User ${String(i)}` });
});

afterAll(async () => {
  await sim?.stop();
  if (ingress) await stopService(ingress, "SIGKILL");
  await infra(["stop", "kafka"], kafkaEnv, broker.variables);
  await stack.stop();
});

describe("ingress across a Kafka outage", () => {
  it("appends a simulated user's message before answering 200", async () => {
    const { wamid } = sim?.userSends("16505550000", {
      type: "text",
      body: "Olá, onde está o meu pedido? 📦",
    }) ?? { wamid: "" };
    await waitFor(() => outcomesOf(wamid).includes(200), { timeoutMs: 60_000, description: "200" });
    expect(await wamidsOnRawTopic()).toEqual([wamid]);
  });

  it("answers 503 while the broker is dead, never 200, and keeps running", async () => {
    const pid = Number(
      readFileSync(join(repoRoot, ".parley", "e2e-ingress", "run", "kafka.pid"), "utf8"),
    );
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (await readiness()) === 503, {
      timeoutMs: 10_000,
      description: "not ready",
    });
    const sent = [1, 2, 3, 4].map(
      (i) =>
        sim?.userSends(`1650555000${String(i)}`, {
          type: "text",
          body: `during the outage ${String(i)} ✓`,
        }).wamid ?? "",
    );
    await waitFor(() => sent.every((w) => outcomesOf(w).filter((o) => o === 503).length >= 2), {
      timeoutMs: 60_000,
      description: "two 503s per webhook",
    });
    // Every attempt got a prompt 503: no 200, no hung or dropped connection.
    for (const w of sent) expect(new Set(outcomesOf(w))).toEqual(new Set([503]));
    expect(await metric("webhook_requests_total", 'outcome="accepted"')).toBe(1);
    expect(ingress?.child.exitCode).toBeNull();
    outage.push(...sent);
  });

  // At least once on the raw topic: an append that timed out (503) may still land once the broker
  // is back, so a retried webhook can be there twice. The 200 is given once per webhook, and
  // the router dedupes by wamid (invariant 3); no webhook is missing (invariant 1).
  it("appends every retried webhook after the broker is back, each answered 200 once", async () => {
    await infra(["start", "kafka"], kafkaEnv, broker.variables); // a clean slate: the raw topic is created again
    await provision();
    await waitFor(() => outage.every((w) => outcomesOf(w).includes(200)), {
      timeoutMs: 120_000,
      description: "every retried webhook answered 200",
    });
    for (const w of outage) expect(outcomesOf(w).filter((o) => o === 200)).toHaveLength(1);
    const onTopic = await wamidsOnRawTopic();
    expect(new Set(onTopic)).toEqual(new Set(outage));
    const attempts = outage.reduce((n, w) => n + outcomesOf(w).length, 0);
    expect(onTopic.length).toBeLessThanOrEqual(attempts);
    // Nothing half-done: ingress said 200 exactly once per webhook (the first one plus the
    // outage's) and holds no append still pending.
    expect(await metric("webhook_requests_total", 'outcome="accepted"')).toBe(1 + outage.length);
    expect(await metric("webhook_appends_in_flight")).toBe(0);
    console.log(
      `[ingress outage] ${String(outage.length)} webhooks, ${String(attempts)} attempts, ${String(onTopic.length)} raw records after recovery (${String(onTopic.length - outage.length)} late duplicates of 503s)`,
    );
    expect(await readiness()).toBe(200);
  });

  it("stops gracefully on SIGTERM with exit code 0", async () => {
    if (!ingress) throw new Error("ingress did not start");
    // A graceful stop: exit code 0 (stopService's SIGKILL fallback would give null).
    expect(await stopService(ingress)).toBe(0);
  });
});
