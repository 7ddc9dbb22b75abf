import { join } from "node:path";
import { createParleyClient, type ParleyClient } from "@parley/client";
import {
  createSimulator,
  serveSimulator,
  type Simulator,
  type SimulatorOptions,
} from "@parley/cloud-api-sim";
import { createCatalog, type AnyEvent, type Catalog, type TopicId } from "@parley/contracts";
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
  type KafkaSecurity,
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

/**
 * The outbound and inbound paths as processes, for end-to-end specs: the test stack's servers, a
 * namespace's topics provisioned from the catalog, the Cloud API simulator serving Graph and
 * posting signed webhooks to ingress, the services started on demand, a reader of the topics a
 * spec asserts on, a Parley client and a raw producer (for requests the client would refuse).
 */
export interface PathStack {
  readonly stack: Stack;
  readonly ns: Namespace;
  readonly catalog: Catalog;
  /** A Kafka client on the stack's broker, for a spec's own admin checks. */
  readonly kafka: KafkaClient;
  readonly sim: Simulator;
  readonly client: ParleyClient;
  /** Where ingress takes webhooks once started (the simulator posts there). */
  readonly webhookUrl: string;
  /** Every event read so far from the topics named in `read`, in arrival order. */
  readonly seen: AnyEvent[];
  /** Appends events as a domain team on raw Kafka would (no client-side checks). */
  publish(events: readonly AnyEvent[]): Promise<void>;
  start(
    name: "ingress" | "router" | "sender" | "projection" | "media" | "consent" | "campaigns",
    own?: Readonly<Record<string, string>>,
  ): Promise<ServiceProcess>;
  /** The outcomes of a request read so far (its Send* events but the request), in order. */
  outcomesOf(requestId: string): AnyEvent[];
  /**
   * A request's distinct terminal outcomes. A redelivered dispatch (a rebalance) republishes its
   * stored outcome with the same event id, which consumers dedupe; a second decision would carry
   * another id and is counted.
   */
  terminalOf(requestId: string): AnyEvent[];
  /**
   * The contact writes first, so the business may answer free-form for 24 h; resolves once the
   * router's window event is read (`read` must include "conversation-windows").
   */
  openWindow(waId: string, phoneNumberId: string, timeoutMs?: number): Promise<void>;
  /** Stops the services, the reader, the client and the simulator, and drops the database. */
  stop(): Promise<void>;
}

const TERMINAL = new Set([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendReconciled",
  "SendDeduplicated",
]);

export interface PathStackOptions {
  /** The namespace's name and the log directory's: `.parley/e2e-<name>/<ns>`. */
  readonly name: string;
  readonly opsToken: string;
  readonly appSecret: string;
  readonly graphToken: string;
  /** PARLEY_NUMBERS for router and sender. */
  readonly numbers: string;
  readonly simulator: Omit<SimulatorOptions, "appSecret" | "webhookUrls" | "accessTokens">;
  readonly read: readonly TopicId[];
  /** Partitions per kind of topic (default: contact 4, business 4, raw 2). */
  readonly partitions?: {
    readonly contact?: number;
    readonly business?: number;
    readonly raw?: number;
  };
  /** The spec's own consumer groups (an outcome tracker's), whose dead-letter topics it needs. */
  readonly ownConsumers?: readonly string[];
  /**
   * Servers other than the environment's, each optional (absent: the environment's): another
   * Kafka (a spec's own broker, the SCRAM-over-TLS broker, the three-node cluster) with the
   * security for the spec's own clients and the variables that give the services the same
   * (KAFKA_TLS, KAFKA_SASL_...), another schema registry, another MongoDB (the chaos run's own).
   */
  readonly servers?: PathStackServers;
}

export interface PathStackServers {
  readonly kafka?: {
    readonly brokers: readonly string[];
    readonly security?: KafkaSecurity;
    readonly env?: Readonly<Record<string, string>>;
  };
  readonly schemaRegistryUrl?: string;
  readonly mongoUrl?: string;
}

export async function startPathStack(options: PathStackOptions): Promise<PathStack> {
  const given = options.servers ?? {};
  const stack = await startStack({
    env: {
      ...process.env,
      ...(given.kafka ? { KAFKA_BROKERS: given.kafka.brokers.join(",") } : {}),
      ...(given.schemaRegistryUrl === undefined
        ? {}
        : { SCHEMA_REGISTRY_URL: given.schemaRegistryUrl }),
      ...(given.mongoUrl === undefined ? {} : { MONGO_URL: given.mongoUrl }),
    },
  });
  const ns = stack.namespace(options.name);
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 4, business: 4, raw: 2, ...options.partitions },
  });
  const brokers = stack.kafkaBrokers;
  const security = given.kafka?.security ?? {};
  const kafka = createKafka({ brokers, clientId: ns.id, security });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  const readerName = `e2e-${options.name}-reader`;
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
          ...[...consumers, readerName, ...(options.ownConsumers ?? [])].map((c) =>
            catalog.deadLetterTopic(c),
          ),
        ],
      }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  const seen: AnyEvent[] = [];
  // No topic to read (a caller that follows them itself): no reader.
  const reader: ConsumerRunner | undefined =
    options.read.length === 0
      ? undefined
      : createEventConsumer({
          kafka,
          serde,
          catalog,
          consumer: readerName,
          topics: options.read.map((id) => catalog.topic(id)),
          tuning: { fromBeginning: true },
          handle: (record) => {
            seen.push(record.value);
            return Promise.resolve();
          },
        });
  await reader?.start();
  const producer: EventProducer = createEventProducer({ kafka, serde, name: readerName });
  await producer.connect();

  const webhookPort = await freePort();
  const sim = createSimulator({
    ...options.simulator,
    appSecret: options.appSecret,
    accessTokens: [{ token: options.graphToken }],
    webhookUrls: [`http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`],
  });
  const simServer = await serveSimulator(sim, { port: await freePort(), host: "127.0.0.1" });
  const processes: ServiceProcess[] = [];
  const client = createParleyClient({
    brokers,
    security,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    clientId: `${ns.id}-orders`,
    prefix: catalog.prefix,
  });

  const start: PathStack["start"] = async (name, own = {}) => {
    const port = await freePort();
    const ingressOwn: Record<string, string> =
      name === "ingress"
        ? {
            WEBHOOK_PORT: String(webhookPort),
            WA_APP_SECRET: options.appSecret,
            WA_VERIFY_TOKEN: `${options.name}-verify-token`,
          }
        : {};
    const service = startService(
      name,
      port,
      serviceEnv(
        stack,
        { database: ns.database(), topicPrefix: catalog.prefix, opsToken: options.opsToken },
        {
          LOG_LEVEL: "info",
          PARLEY_NUMBERS: options.numbers,
          WA_GRAPH_BASE_URL: simServer.url,
          ...ingressOwn,
          ...given.kafka?.env,
          ...own,
        },
      ),
      join(repoRoot, ".parley", `e2e-${options.name}`, ns.id),
      `${name}-${String(processes.filter((p) => p.name.startsWith(name)).length + 1)}`,
    );
    processes.push(service);
    // Ready, or failed as soon as it exits (no two minutes' wait for a process that is gone).
    // A process that never got ready is SIGKILLed before the failure is reported: left running
    // it would still join its groups beside the one a caller starts in its place (the chaos
    // cluster run, 2026-12-06, left two routers and two senders that never got ready running).
    let ended = false;
    await Promise.race([
      waitFor(
        async () =>
          (
            await fetch(`${service.url}/readyz`, {
              headers: { authorization: `Bearer ${options.opsToken}` },
            }).catch(() => undefined)
          )?.status === 200,
        { timeoutMs: 120_000, description: `${service.name} ready` },
      ).finally(() => {
        ended = true;
      }),
      service.exited.then((code) => {
        if (!ended) throw new Error(`${service.name} exited with ${String(code)} while starting`);
      }),
    ]).catch((error: unknown) => {
      if (service.child.exitCode === null && service.child.signalCode === null)
        service.child.kill("SIGKILL");
      throw error;
    });
    return service;
  };

  const outcomesOf = (requestId: string): AnyEvent[] =>
    seen.filter(
      (e) =>
        e.correlationId === requestId && e.type.startsWith("Send") && e.type !== "SendRequested",
    );

  return {
    stack,
    ns,
    catalog,
    kafka,
    sim,
    client,
    webhookUrl: `http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`,
    seen,
    async publish(events) {
      for (const event of events) {
        const topic = catalog.topicOf(event.type);
        await producer.publish(topic, [{ key: topic.keyOf(event), event }]);
      }
    },
    start,
    outcomesOf,
    terminalOf(requestId) {
      const ids = new Set<string>();
      return outcomesOf(requestId).filter((e) => {
        if (!TERMINAL.has(e.type) || ids.has(e.eventId)) return false;
        ids.add(e.eventId);
        return true;
      });
    },
    async openWindow(waId, phoneNumberId, timeoutMs = 30_000) {
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
        { timeoutMs, description: `window of ${waId} open` },
      );
    },
    async stop() {
      await Promise.all(processes.map((p) => stopService(p)));
      await client.close();
      await producer.disconnect();
      await reader?.stop();
      await simServer.close();
      await sim.stop();
      const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
      await mongo.db.dropDatabase();
      await mongo.close();
      await stack.stop();
    },
  };
}

/**
 * Registers, on the simulator's WABA `wabaId`, the approved utility template the specs send
 * (`order_update`, en_US, one body parameter): what `requestTemplateRounds` asks for.
 */
export function addOrderUpdateTemplate(sim: Simulator, wabaId: string): void {
  sim.addTemplate({
    wabaId,
    name: "order_update",
    language: "en_US",
    category: "UTILITY",
    status: "APPROVED",
    body: "Order {{1}} has shipped.",
  });
}

/**
 * Asks for `rounds` x `contacts` utility sends of the `order_update` template (en_US, one body
 * parameter; `addOrderUpdateTemplate` registers it) from `phoneNumberId`, one round after the other, a round's contacts concurrently;
 * contact c is the number `firstContact + c`, its request's key `<keyPrefix>-<contact>-<round>`.
 * Answers the request ids in the order the send API acknowledged them.
 */
export async function requestTemplateRounds(
  client: ParleyClient,
  o: {
    readonly keyPrefix: string;
    readonly firstContact: number;
    readonly contacts: number;
    readonly rounds: number;
    readonly phoneNumberId: string;
  },
): Promise<string[]> {
  const requests: string[] = [];
  for (let round = 0; round < o.rounds; round++)
    await Promise.all(
      Array.from({ length: o.contacts }, async (_, c) => {
        const contact = String(o.firstContact + c);
        const { requestId } = await client.requestSend({
          idempotencyKey: `${o.keyPrefix}-${contact}-${String(round)}`,
          contactId: contact,
          recipient: { phone: contact },
          sender: { kind: "businessNumber", phoneNumberId: o.phoneNumberId },
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
  return requests;
}
