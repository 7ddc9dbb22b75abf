import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createParleyClient, type ParleyClient } from "@parley/client";
import { createSimulator, serveSimulator, type Simulator } from "@parley/cloud-api-sim";
import { createCatalog, type AnyEvent, type Catalog, type EventOf } from "@parley/contracts";
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

// The outbound path end to end, every part a real process or server: send requests (Kafka client
// and the HTTP send API) -> router (policy) -> dispatch -> sender -> Graph (the simulator) ->
// status webhooks -> ingress -> router -> statuses -> outcomes. Two routers and two senders share
// the work through their consumer groups; one of each leaves and a sender is killed mid-call.
const OPS_TOKEN = "e2e-outbound-ops-token";
const APP_SECRET = "e2e-outbound-app-secret";
const GRAPH_TOKEN = "e2e-outbound-graph-token";
const API_KEY = "e2e-outbound-api-key-0123456789";
const WABA = "102290129340301";
/** Default limits: 80 msg/s, pair pacing 45 then one per 6 s. */
const FAST = "106540352242931";
/** Pair pacing of 2 then one per 10 s: a third message to a recipient waits in the sender. */
const PACED = "106540352242932";

const NUMBERS = JSON.stringify({
  numbers: [
    { phoneNumberId: FAST, wabaId: WABA, aliases: ["orders"], accessToken: GRAPH_TOKEN },
    {
      phoneNumberId: PACED,
      wabaId: WABA,
      aliases: ["paced"],
      pairPacing: { burst: 2, refillMs: 10_000 },
      accessToken: GRAPH_TOKEN,
    },
  ],
});

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let sim: Simulator;
let simServer: { url: string; close(): Promise<void> } | undefined;
let client: ParleyClient | undefined;
let reader: ConsumerRunner | undefined;
let webhookPort = 0;
let sendApiPort = 0;
const processes: ServiceProcess[] = [];
const seen: AnyEvent[] = [];

const outcomesOf = (requestId: string): AnyEvent[] =>
  seen.filter(
    (e) =>
      e.correlationId === requestId &&
      e.type !== "StatusUpdated" &&
      e.type.startsWith("Send") &&
      e.type !== "SendRequested",
  );
const TERMINAL = new Set([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendReconciled",
]);
/**
 * A request's distinct terminal outcomes. A redelivered dispatch (a rebalance) republishes its
 * stored outcome with the same event id, which consumers dedupe; a second decision would carry
 * another id and is counted.
 */
const terminalOf = (requestId: string): AnyEvent[] => {
  const seen = new Set<string>();
  return outcomesOf(requestId).filter((e) => {
    if (!TERMINAL.has(e.type) || seen.has(e.eventId)) return false;
    seen.add(e.eventId);
    return true;
  });
};

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
        PARLEY_NUMBERS: NUMBERS,
        WA_GRAPH_BASE_URL: simServer?.url ?? "",
        ...own,
      },
    ),
    join(repoRoot, ".parley", "e2e-outbound", ns.id),
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
    { timeoutMs: 120_000, description: `${service.name} ready` },
  );
  return service;
}

/** The contact writes first, so the business may answer free-form for 24 h. */
async function openWindow(waId: string, phoneNumberId: string): Promise<void> {
  sim.addUser({ waId });
  sim.userSends(waId, { type: "text", body: "hello" }, { phoneNumberId });
  await waitFor(
    () =>
      seen.some(
        (e) =>
          (e.type === "ConversationWindowOpened" || e.type === "ConversationWindowExtended") &&
          e.businessNumber === phoneNumberId &&
          (e.data as { contactId?: string }).contactId === waId,
      ),
    { timeoutMs: 30_000, description: `window of ${waId} open` },
  );
}

const bodiesReceived = (waId: string): string[] =>
  sim.received(waId).map((m) => {
    const message = m.message as { text?: { body?: string } };
    return message.text?.body ?? `(${m.type})`;
  });

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("outbound");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 4, business: 4, raw: 2 } });
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
          ...[...consumers, "e2e-outbound-reader"].map((c) => catalog.deadLetterTopic(c)),
        ],
      }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  reader = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: "e2e-outbound-reader",
    topics: [
      catalog.topic("send-outcomes"),
      catalog.topic("statuses"),
      catalog.topic("conversation-windows"),
      catalog.topic("consent"),
    ],
    tuning: { fromBeginning: true },
    handle: (record) => {
      seen.push(record.value);
      return Promise.resolve();
    },
  });
  await reader.start();

  webhookPort = await freePort();
  sendApiPort = await freePort();
  sim = createSimulator({
    seed: "e2e-outbound",
    appSecret: APP_SECRET,
    accessTokens: [{ token: GRAPH_TOKEN }],
    // Meta's borrowing rule (the simulator's default): a new owner after a rebalance or a kill
    // seeds each recipient's debt from the attempt store (ADR 0006, "Pair pacing"), so these
    // flows across rebalances send to no recipient sooner than Meta allows (issue 21).
    businesses: [
      {
        wabaId: WABA,
        phoneNumbers: [
          { id: FAST, displayPhoneNumber: "15550100931" },
          { id: PACED, displayPhoneNumber: "15550100932" },
        ],
      },
    ],
    webhookUrls: [`http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`],
    webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
    statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
  });
  simServer = await serveSimulator(sim, { port: await freePort(), host: "127.0.0.1" });

  await start("ingress", {
    WEBHOOK_PORT: String(webhookPort),
    WA_APP_SECRET: APP_SECRET,
    WA_VERIFY_TOKEN: "e2e-outbound-verify",
    SEND_API_PORT: String(sendApiPort),
    SEND_API_KEYS: JSON.stringify([
      {
        id: "orders",
        keySha256: createHash("sha256").update(API_KEY).digest("hex"),
        scopes: ["messages:send", "messages:read"],
        requester: "orders",
      },
    ]),
  });
  await start("router");
  await start("sender");

  client = createParleyClient({
    brokers: stack.kafkaBrokers,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    clientId: `${ns.id}-orders`,
    prefix: catalog.prefix,
  });
}, 420_000);

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

describe("outbound path: send request -> router -> sender -> Graph -> outcome", () => {
  it("accepts a send over the HTTP API, calls Graph once and links the status back to the request", async () => {
    const waId = "16505550101";
    await openWindow(waId, FAST);
    const post = () =>
      fetch(`http://127.0.0.1:${String(sendApiPort)}/v1/messages`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${API_KEY}`,
          "content-type": "application/json",
          "idempotency-key": "orders-1-confirmation",
        },
        body: JSON.stringify({
          contactId: waId,
          recipient: { phone: `+${waId}` },
          sender: { kind: "alias", alias: "orders" },
          content: { type: "text", text: { body: "Your order 1 is confirmed" } },
          category: "utility",
        }),
      });
    const first = await post();
    expect(first.status).toBe(202);
    const { requestId } = (await first.json()) as { requestId: string };
    // The caller's retry: the same request id, nothing sent twice.
    const again = await post();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { requestId: string }).requestId).toBe(requestId);

    await waitFor(() => terminalOf(requestId).length > 0, {
      timeoutMs: 30_000,
      description: "an outcome for the HTTP request",
    });
    const [outcome] = terminalOf(requestId);
    expect(outcome?.type).toBe("SendAccepted");
    const { wamid } = (outcome as EventOf<"SendAccepted">).data;
    const received = sim.received(waId);
    expect(received.map((m) => [m.wamid, m.callbackData])).toEqual([[wamid, requestId]]);
    // Meta's status webhook comes back through ingress and the router, naming the request.
    await waitFor(
      () =>
        seen.some(
          (e) =>
            e.type === "StatusUpdated" &&
            e.data.wamid === wamid &&
            e.data.bizOpaqueCallbackData === requestId,
        ),
      { timeoutMs: 30_000, description: "the sent status, linked to the request" },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(terminalOf(requestId)).toHaveLength(1);
    expect(sim.received(waId)).toHaveLength(1);
  });

  it("keeps each contact's order, at most once, while routers and senders join and leave", async () => {
    if (client === undefined) throw new Error("no client");
    const parley = client;
    const contacts = Array.from({ length: 6 }, (_, i) => `1650555020${String(i)}`);
    for (const waId of contacts) await openWindow(waId, FAST);
    const requests = new Map<string, string[]>();
    const publish = async (from: number, to: number): Promise<void> => {
      await Promise.all(
        contacts.map(async (waId) => {
          for (let i = from; i < to; i++) {
            const body = `${waId} #${String(i).padStart(2, "0")}`;
            const { requestId } = await parley.requestSend({
              idempotencyKey: `order-${body}`,
              contactId: waId,
              recipient: { phone: waId },
              sender: { kind: "businessNumber", phoneNumberId: FAST },
              content: { type: "text", text: { body } },
              category: "utility",
            });
            requests.set(waId, [...(requests.get(waId) ?? []), requestId]);
          }
        }),
      );
    };

    await publish(0, 4);
    // A second router and sender join: the groups rebalance while requests flow.
    const [router2, sender2] = await Promise.all([start("router"), start("sender")]);
    await publish(4, 8);
    // The first ones leave (graceful): another rebalance, the newcomers own everything.
    const [router1, sender1] = [
      processes.find((p) => p.name === "router-1"),
      processes.find((p) => p.name === "sender-1"),
    ];
    const [, ...leftWith] = await Promise.all([
      publish(8, 12),
      router1 && stopService(router1, "SIGTERM"),
      sender1 && stopService(sender1, "SIGTERM"),
    ]);
    // They left on their own: stopService's SIGKILL fallback would show here as null.
    expect(leftWith).toEqual([0, 0]);
    expect(router2.child.exitCode).toBeNull();
    expect(sender2.child.exitCode).toBeNull();

    const all = [...requests.values()].flat();
    await waitFor(() => all.every((id) => terminalOf(id).length > 0), {
      timeoutMs: 180_000,
      intervalMs: 250,
      description: `an outcome for each of ${String(all.length)} requests`,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    for (const id of all) {
      expect(terminalOf(id).map((e) => e.type)).toEqual(["SendAccepted"]);
    }
    for (const waId of contacts) {
      const expected = Array.from(
        { length: 12 },
        (_, i) => `${waId} #${String(i).padStart(2, "0")}`,
      );
      // Exactly once each, in the order requested.
      expect(bodiesReceived(waId)).toEqual(expected);
    }
    const stats = sim.stats().find((s) => s.phoneNumberId === FAST);
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(80);
    expect(stats?.rejectedByCode).toEqual({});
    expect(sim.pairPacing({ phoneNumberId: FAST }).every((p) => p.ok)).toBe(true);
  }, 300_000);

  it("never resends a call cut short by a crash: the request is in doubt, then reconciled from its status webhook", async () => {
    if (client === undefined) throw new Error("no client");
    const waId = "16505550301";
    await openWindow(waId, FAST);
    // Graph takes the message at once but holds its answer back: the sender dies waiting.
    sim.scriptFaults([{ kind: "delay", ms: 5_000 }], { endpoint: "messages" });
    const { requestId } = await client.requestSend({
      idempotencyKey: "crash-1",
      contactId: waId,
      recipient: { phone: waId },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "sent exactly once" } },
      category: "utility",
    });
    await waitFor(() => sim.received(waId).length === 1, {
      timeoutMs: 30_000,
      description: "the Graph call in flight",
    });
    const running = processes.filter(
      (p) =>
        p.name.startsWith("sender") && p.child.exitCode === null && p.child.signalCode === null,
    );
    await Promise.all(running.map((p) => stopService(p, "SIGKILL")));
    await start("sender");

    await waitFor(() => terminalOf(requestId).length > 0, {
      timeoutMs: 60_000,
      description: "the in-doubt request reconciled",
    });
    // SendInDoubt (the dispatch record's transaction) and SendReconciled (the status record's)
    // commit independently, so a reader may see them in either order (ADR 0009: outcomes are
    // read by wamid, not by order); both come, once each.
    await waitFor(() => outcomesOf(requestId).some((e) => e.type === "SendInDoubt"), {
      timeoutMs: 15_000,
      description: "the request's SendInDoubt",
    });
    const types = outcomesOf(requestId).map((e) => e.type);
    expect([...types].sort()).toEqual(["SendInDoubt", "SendReconciled"]);
    const reconciled = terminalOf(requestId)[0] as EventOf<"SendReconciled">;
    expect(reconciled.data.wamid).toBe(sim.received(waId)[0]?.wamid);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(sim.received(waId)).toHaveLength(1);
  }, 180_000);

  it("stops a send waiting in the sender when the contact opts out meanwhile", async () => {
    if (client === undefined) throw new Error("no client");
    const parley = client;
    const waId = "16505550401";
    await openWindow(waId, PACED);
    const send = (i: number) =>
      parley.requestSend({
        idempotencyKey: `paced-${String(i)}`,
        contactId: waId,
        recipient: { phone: waId },
        sender: { kind: "alias", alias: "paced" },
        content: { type: "text", text: { body: `update ${String(i)}` } },
        category: "utility",
      });
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await send(i)).requestId);
    // Two leave at once (the pair burst); the third waits out the pacing in the sender.
    await waitFor(() => sim.received(waId).length === 2, {
      timeoutMs: 30_000,
      description: "the pair burst sent",
    });
    sim.userSends(waId, { type: "text", body: "Stop" }, { phoneNumberId: PACED });
    await waitFor(
      () => seen.some((e) => e.type === "ConsentRevoked" && e.data.contactId === waId),
      {
        timeoutMs: 30_000,
        description: "the opt-out recorded",
      },
    );
    const third = ids[2] ?? "";
    // Meta's borrowing: the burst of two is repaid 2 x 10 s after it, and only then is the third
    // judged (and refused: the opt-out came meanwhile).
    await waitFor(() => terminalOf(third).length > 0, {
      timeoutMs: 70_000,
      description: "the waiting send's outcome",
    });
    expect(terminalOf(third)[0]).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    // Requested after the opt-out: refused before reaching the sender.
    const fourth = (await send(4)).requestId;
    await waitFor(() => terminalOf(fourth).length > 0, { timeoutMs: 30_000 });
    expect(terminalOf(fourth)[0]).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    expect(bodiesReceived(waId)).toEqual(["update 1", "update 2"]);
    expect(
      sim.pairPacing({ phoneNumberId: PACED, to: waId, burst: 2, refillMs: 10_000 })[0]?.ok,
    ).toBe(true);
  });
});
