import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createParleyClient, type ParleyClient } from "@parley/client";
import { createSimulator, serveSimulator, type Simulator } from "@parley/cloud-api-sim";
import { createCatalog, type AnyEvent, type Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type ConsumerRunner,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import {
  freePort,
  repoRoot,
  serviceEnv,
  startService,
  stopService,
  type ServiceProcess,
} from "./processes.js";

// Issue 30, item 1: a sender killed (SIGKILL) while hundreds of dispatches wait for their rate
// slots. Each of them was claimed; none had called. The next sender must send every one of
// them exactly once, and judge in doubt only the calls that had really left (and reconcile each
// from its status webhook). Every part is a real process or server; Meta is the simulator.
const OPS_TOKEN = "e2e-crash-ops-token";
const APP_SECRET = "e2e-crash-app-secret";
const GRAPH_TOKEN = "e2e-crash-graph-token";
const WABA = "102290129340501";
/** 50 msg/s: 600 requests are a 12 s backlog. */
const NUMBER = "106540352242951";
const MPS = 50;
const CONTACTS = 200;
const PER_CONTACT = 3;

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let sim: Simulator;
let simServer: { url: string; close(): Promise<void> } | undefined;
let client: ParleyClient | undefined;
let reader: ConsumerRunner | undefined;
let webhookPort = 0;
const processes: ServiceProcess[] = [];
const seen: AnyEvent[] = [];

const TERMINAL = new Set([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendReconciled",
  "SendDeduplicated",
]);
const outcomesOf = (requestId: string): AnyEvent[] =>
  seen.filter((e) => e.correlationId === requestId && e.type.startsWith("Send"));
/** Distinct terminal outcomes (a record repeated with the same event id counts once). */
const terminalOf = (requestId: string): AnyEvent[] => {
  const ids = new Set<string>();
  return outcomesOf(requestId).filter((e) => {
    if (!TERMINAL.has(e.type) || ids.has(e.eventId)) return false;
    ids.add(e.eventId);
    return true;
  });
};
const callsFor = (requestId: string) =>
  sim.messages({ phoneNumberId: NUMBER }).filter((m) => m.callbackData === requestId);

async function start(name: "ingress" | "router" | "sender", own: Record<string, string> = {}) {
  const port = await freePort();
  const service = startService(
    name,
    port,
    serviceEnv(
      stack,
      { database: ns.database(), topicPrefix: catalog.prefix, opsToken: OPS_TOKEN },
      {
        LOG_LEVEL: "info",
        PARLEY_NUMBERS: JSON.stringify({
          numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: MPS, accessToken: GRAPH_TOKEN }],
        }),
        WA_GRAPH_BASE_URL: simServer?.url ?? "",
        ...own,
      },
    ),
    join(repoRoot, ".parley", "e2e-sender-crash", ns.id),
    `${name}-${String(processes.filter((p) => p.name.startsWith(name)).length + 1)}`,
  );
  processes.push(service);
  await waitFor(
    async () =>
      (
        await fetch(`${service.url}/readyz`, {
          headers: { authorization: `Bearer ${OPS_TOKEN}` },
        }).catch(() => undefined)
      )?.status === 200,
    { timeoutMs: 180_000, description: `${service.name} ready` },
  );
  return service;
}

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("sender-crash");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 4, business: 2, raw: 2 } });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const consumers = [...new Set(catalog.topics.flatMap((t) => t.consumers))].filter((c) =>
    /^[a-z0-9][a-z0-9._-]*$/.test(c),
  );
  await waitFor(
    () =>
      provisionTopics({
        kafka,
        serde,
        topics: [
          ...catalog.topics,
          ...[...consumers, "e2e-crash-reader"].map((c) => catalog.deadLetterTopic(c)),
        ],
      }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "e2e-crash-reader",
    topics: [catalog.topic("send-outcomes")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      seen.push(record.value);
      return Promise.resolve();
    },
  });
  await reader.start();

  webhookPort = await freePort();
  sim = createSimulator({
    seed: "e2e-sender-crash",
    appSecret: APP_SECRET,
    accessTokens: [{ token: GRAPH_TOKEN }],
    businesses: [
      {
        wabaId: WABA,
        phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100951", throughputMps: MPS }],
      },
    ],
    webhookUrls: [`http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`],
    webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
    statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    // Each send is taken at once and answered 300 ms later: about 15 calls are always out.
    faults: { latency: { kind: "fixed", ms: 300 } },
    retainMessages: 10_000,
  });
  sim.addTemplate({
    wabaId: WABA,
    name: "order_update",
    language: "en_US",
    category: "UTILITY",
    status: "APPROVED",
    body: "Order {{1}} has shipped.",
  });
  simServer = await serveSimulator(sim, { port: await freePort(), host: "127.0.0.1" });

  await start("ingress", {
    WEBHOOK_PORT: String(webhookPort),
    WA_APP_SECRET: APP_SECRET,
    WA_VERIFY_TOKEN: "e2e-crash-verify",
  });
  await start("router");
  await start("sender");
  client = createParleyClient({
    brokers: stack.kafkaBrokers,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    clientId: `${ns.id}-orders`,
    prefix: catalog.prefix,
  });
}, 600_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => stopService(p)));
  await client?.close();
  await reader?.stop();
  await simServer?.close();
  await sim.stop();
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
}, 120_000);

describe("a sender killed while hundreds of dispatches wait for their rate slots", () => {
  it("sends every one exactly once after the restart; only calls that had left are in doubt, each reconciled from its status webhook", async () => {
    if (client === undefined) throw new Error("no client");
    const parley = client;
    const requests: string[] = [];
    for (let round = 0; round < PER_CONTACT; round++)
      await Promise.all(
        Array.from({ length: CONTACTS }, async (_, c) => {
          const contact = String(16_505_700_000 + c);
          const { requestId } = await parley.requestSend({
            idempotencyKey: `crash-${contact}-${String(round)}`,
            contactId: contact,
            recipient: { phone: contact },
            sender: { kind: "businessNumber", phoneNumberId: NUMBER },
            content: {
              type: "template",
              template: {
                name: "order_update",
                language: { code: "en_US" },
                components: [
                  {
                    type: "body",
                    parameters: [{ type: "text", text: `${contact}-${String(round)}` }],
                  },
                ],
              },
            },
            category: "utility",
          });
          requests.push(requestId);
        }),
      );
    const total = CONTACTS * PER_CONTACT;
    // A backlog: the sender took them all, and sends 50 a second.
    await waitFor(() => sim.messages({ phoneNumberId: NUMBER }).length >= 100, {
      timeoutMs: 120_000,
      intervalMs: 50,
      description: "the first hundred sent",
    });
    const sender = processes.find((p) => p.name === "sender-1");
    if (!sender) throw new Error("no sender");
    await stopService(sender, "SIGKILL");
    const sentBeforeKill = sim.messages({ phoneNumberId: NUMBER }).length;
    // Hundreds were waiting for their slot (claimed, never called) when it died.
    expect(total - sentBeforeKill).toBeGreaterThanOrEqual(300);
    await start("sender");

    await waitFor(() => requests.every((id) => terminalOf(id).length > 0), {
      timeoutMs: 300_000,
      intervalMs: 500,
      description: `a terminal outcome for each of ${String(total)} requests`,
    });
    await new Promise((r) => setTimeout(r, 3_000));

    const inDoubt = requests.filter((id) => outcomesOf(id).some((e) => e.type === "SendInDoubt"));
    const problems: string[] = [];
    for (const id of requests) {
      const calls = callsFor(id);
      const terminal = terminalOf(id);
      // Sent exactly once, one terminal outcome.
      if (calls.length !== 1) problems.push(`${id}: ${String(calls.length)} Graph calls`);
      if (terminal.length !== 1) problems.push(`${id}: ${terminal.map((e) => e.type).join(", ")}`);
      const [final] = terminal;
      if (inDoubt.includes(id)) {
        // In doubt only if its call had really left, and reconciled from its status webhook.
        if (final?.type !== "SendReconciled")
          problems.push(`${id}: in doubt, then ${final?.type ?? "nothing"}`);
        else if (final.data.wamid !== calls[0]?.wamid)
          problems.push(`${id}: reconciled with another wamid`);
      } else if (final?.type !== "SendAccepted") problems.push(`${id}: ${final?.type ?? "none"}`);
    }
    expect(problems).toEqual([]);
    // Only the calls that were out when it died: a fraction of what was in flight then.
    expect(inDoubt.length).toBeLessThanOrEqual(40);
    const stats = sim.stats().find((s) => s.phoneNumberId === NUMBER);
    expect(stats?.accepted).toBe(total);
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(MPS);
    expect(stats?.rejectedByCode).toEqual({});
  }, 600_000);
});
