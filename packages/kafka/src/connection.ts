import kafkajs, {
  Kafka,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Admin,
  type Producer,
  type ProducerConfig,
} from "kafkajs";

import { createKafkaHealth, type KafkaHealth } from "./health.js";
import type { KafkaObserver } from "./observer.js";
import {
  kafkaAccessProblem,
  kafkaSaslOptions,
  kafkaTlsOptions,
  type KafkaSecurity,
} from "./security.js";

// kafkajs is CommonJS; Node's ESM loader does not see this one as a named export.
const { Partitioners } = kafkajs;

type LogFn = (fields: Record<string, unknown>, message: string) => void;
export interface KafkaLogger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

/**
 * Consumer group settings every consumer made from a client starts from (a consumer's own
 * options win). Services get them from the environment through the chassis (KAFKA_GROUP_*,
 * KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS), so no service passes them by hand.
 */
export interface GroupSettings {
  /**
   * Static membership (KIP-345): when set, each consumer joins with group.instance.id
   * `<instanceId>.<groupId>`, so a restarted process takes its partitions back without a
   * rebalance if it returns within the session timeout. Unset: dynamic membership.
   */
  readonly instanceId?: string | undefined;
  /** How long the broker waits for a silent member before its partitions move (broker bounds: 6 s to 30 min by default). */
  readonly sessionTimeoutMs: number;
  /** How often a member heartbeats; at most a third of the session timeout. */
  readonly heartbeatIntervalMs: number;
}

/**
 * The same defaults as the services' KAFKA_SESSION_TIMEOUT_MS and KAFKA_HEARTBEAT_INTERVAL_MS
 * (docs/benchmarks.md, "Consumer group recovery"); kafkajs's own are 30 s and 3 s.
 */
export const defaultGroupSettings: GroupSettings = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 3_000,
};

export interface KafkaConnectionOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger?: KafkaLogger;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly group?: Partial<GroupSettings>;
  /**
   * Told about every consumer made from the client, every record they dead-letter and (when it
   * has `request`) every request its producers, consumers and admins send.
   */
  readonly observer?: KafkaObserver;
  /** TLS and SASL (docs/security.md); plaintext without authentication when absent. */
  readonly security?: KafkaSecurity;
}

/**
 * The kafkajs client with what Parley's producers and consumers made from it share: the health
 * they report (read by the chassis's /readyz) and the group settings they start from.
 */
export type KafkaClient = Kafka & {
  readonly health: KafkaHealth;
  readonly group: GroupSettings;
  /** The service logger given to createKafka, for Parley's own components. */
  readonly serviceLogger?: KafkaLogger | undefined;
  /** The observer given to createKafka, told about every consumer and dead letter. */
  readonly observer?: KafkaObserver | undefined;
};

/** A consumer's group.instance.id: `<instanceId>.<groupId>` when the client has one, else none. */
export function groupInstanceIdOf(group: GroupSettings, groupId: string): string | undefined {
  return group.instanceId === undefined ? undefined : `${group.instanceId}.${groupId}`;
}

/** Checks group settings against each other; throws a RangeError saying how to fix them. */
export function checkGroupSettings({
  instanceId,
  sessionTimeoutMs,
  heartbeatIntervalMs,
}: GroupSettings): void {
  if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 1)
    throw new RangeError(`sessionTimeoutMs must be a positive integer, got ${sessionTimeoutMs}`);
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 1)
    throw new RangeError(
      `heartbeatIntervalMs must be a positive integer, got ${heartbeatIntervalMs}`,
    );
  if (heartbeatIntervalMs * 3 > sessionTimeoutMs)
    throw new RangeError(
      `heartbeatIntervalMs (${heartbeatIntervalMs}) must be at most a third of sessionTimeoutMs (${sessionTimeoutMs}), or one late heartbeat ends the session`,
    );
  if (instanceId !== undefined && !/^[A-Za-z0-9._-]{1,200}$/.test(instanceId))
    throw new RangeError(
      `instanceId "${instanceId}" may only contain letters, digits, '.', '_' and '-' (1 to 200)`,
    );
}

/**
 * Error answers kafkajs's connections log at error level although the request is retried and
 * usually succeeds: a broker that is still loading its coordinator state after a start, a
 * coordinator or leader moving. They are a normal part of a start or a rebalance, not errors;
 * a request that fails for good reaches its caller, which reports it.
 */
const TRANSIENT_ANSWERS = [
  "The coordinator is loading",
  "The group coordinator is not available",
  "This is not the correct coordinator",
  "There is no leader for this topic-partition",
  "The group is rebalancing",
  "This server does not host this topic-partition",
  "The coordinator is not available",
  // A transaction's next step right after the previous one's commit, while the coordinator
  // still writes its markers (CONCURRENT_TRANSACTIONS): retried at once by kafkajs.
  "The producer attempted to update a transaction while another concurrent operation",
];
/** kafkajs's notice that an idempotent producer has a bounded retry budget: ours is on purpose (ADR 0007). */
const EXPECTED_NOTICES = ["Limiting retries for the idempotent producer"];

/** The level a kafkajs entry is logged at: transient answers and expected notices go to debug. */
export function kafkaLogLevel(
  namespace: string,
  level: KafkaLogLevel,
  log: { readonly message: string; readonly error?: unknown },
): "error" | "warn" | "info" | "debug" {
  const error = typeof log.error === "string" ? log.error : "";
  if (
    namespace === "Connection" &&
    log.message.startsWith("Response ") &&
    TRANSIENT_ANSWERS.some((t) => error.startsWith(t))
  )
    return "debug";
  if (EXPECTED_NOTICES.some((n) => log.message.startsWith(n))) return "debug";
  // A consumer that "crashes" on a transient answer is restarted by kafkajs at once: a warning.
  if (
    namespace === "Consumer" &&
    log.message.startsWith("Crash: ") &&
    TRANSIENT_ANSWERS.some((t) => log.message.includes(t))
  )
    return "warn";
  if (namespace === "Consumer" && log.message.startsWith("Restarting the consumer in"))
    return "info";
  // One attempt of a request kafkajs retries (a broker connection reset or timed out during a
  // start, a load spike or a leader move): the request's caller hears the final failure, if
  // any, and reports it at error level; readiness shows a broker that stays away.
  if (
    namespace === "Connection" &&
    (log.message.startsWith("Connection error") ||
      log.message.startsWith("Connection timeout") ||
      /^Request .* timed out/.test(log.message))
  )
    return "warn";
  // kafkajs writes this one only for errors it retries (connection lost, stale metadata).
  if (namespace === "Producer" && log.message.startsWith("Failed to send messages")) return "warn";
  if (level === KafkaLogLevel.ERROR) return "error";
  if (level === KafkaLogLevel.WARN) return "warn";
  if (level === KafkaLogLevel.INFO) return "info";
  return "debug";
}

/** kafkajs logs go through the service logger (and so through its redaction), at warn and above by default. */
function logCreator(logger: KafkaLogger | undefined) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      if (!logger) return;
      const { message, ...fields } = log;
      const entry = { component: "kafka", namespace, ...fields };
      logger[kafkaLogLevel(namespace, level, log)](entry, message);
    };
}

/** One Kafka client per process; producers, consumers and admins are created from it. */
export function createKafka({
  brokers,
  clientId,
  logger,
  connectionTimeoutMs = 3_000,
  requestTimeoutMs = 30_000,
  group = {},
  observer,
  security = {},
}: KafkaConnectionOptions): KafkaClient {
  if (brokers.length === 0)
    throw new Error("createKafka: `brokers` is empty; set KAFKA_BROKERS=host:port[,host:port]");
  const settings: GroupSettings = {
    ...defaultGroupSettings,
    ...Object.fromEntries(Object.entries(group).filter(([, v]) => v !== undefined)),
  };
  try {
    checkGroupSettings(settings);
  } catch (error) {
    throw new RangeError(`createKafka: group.${(error as Error).message}`);
  }
  const ssl = kafkaTlsOptions(security.tls);
  const sasl = kafkaSaslOptions(security.sasl);
  const client = new Kafka({
    clientId,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    brokers: [...brokers],
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(logger),
  });
  const request =
    observer?.request === undefined
      ? undefined
      : (info: { readonly apiName: string }) => {
          observer.request?.(info);
        };
  if (observer?.consumerCreated !== undefined || request !== undefined) {
    const make = client.consumer.bind(client);
    client.consumer = (config) => {
      const consumer = make(config);
      observer?.consumerCreated?.(config.groupId, consumer);
      if (request !== undefined) {
        consumer.on(consumer.events.REQUEST, ({ payload }) => {
          request({ apiName: payload.apiName });
        });
      }
      return consumer;
    };
  }
  if (request !== undefined) {
    // Every request of the client's producers and admins too: the round trips per message the
    // benchmarks report (docs/benchmarks.md).
    const makeProducer = client.producer.bind(client);
    client.producer = (config) => {
      const producer = makeProducer(config);
      producer.on(producer.events.REQUEST, ({ payload }) => {
        request({ apiName: payload.apiName });
      });
      return producer;
    };
    const makeAdmin = client.admin.bind(client);
    client.admin = (config) => {
      const admin = makeAdmin(config);
      admin.on(admin.events.REQUEST, ({ payload }) => {
        request({ apiName: payload.apiName });
      });
      return admin;
    };
  }
  return Object.assign(client, {
    health: createKafkaHealth(),
    group: Object.freeze(settings),
    serviceLogger: logger,
    observer,
  });
}

/**
 * One metadata round trip on a throwaway client that does not retry, for a service's start: a
 * refusal no retry fixes (SASL credentials, an untrusted certificate) comes back at once as a
 * sentence naming the setting (`problem`), where the service's own client would retry it for
 * minutes. `problem` is undefined for an outage (refused, closed, timed out), with `hint` saying
 * what else the failure may mean. Resolves `{ ok: true }` when the brokers answered.
 */
export async function checkKafkaAccess({
  brokers,
  clientId,
  security = {},
  connectionTimeoutMs = 3_000,
}: Pick<
  KafkaConnectionOptions,
  "brokers" | "clientId" | "security" | "connectionTimeoutMs"
>): Promise<
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly error: unknown;
      readonly problem: string | undefined;
      readonly hint: string;
    }
> {
  const ssl = kafkaTlsOptions(security.tls);
  const sasl = kafkaSaslOptions(security.sasl);
  const kafka = new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: 10_000,
    retry: { retries: 0 },
    logLevel: KafkaLogLevel.NOTHING,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
    return { ok: true };
  } catch (error) {
    const closed = error instanceof Error && /Closed connection/.test(error.message);
    const hint = closed
      ? ssl === undefined
        ? "the broker closed the connection: if its listener is TLS, set KAFKA_TLS=true"
        : sasl === undefined
          ? "the broker closed the connection: if its listener requires SASL, set KAFKA_SASL_MECHANISM"
          : "the broker closed the connection"
      : "the brokers did not answer";
    return { ok: false, error, problem: kafkaAccessProblem(error), hint };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface BrokerInfo {
  readonly clusterId: string;
  readonly brokers: readonly { nodeId: number; host: string; port: number }[];
  readonly controller: number | null;
}

/**
 * Readiness for Kafka: a real metadata round trip on a dedicated admin connection that does not
 * retry (so a dead broker is seen within the probe's timeout). After a failure the admin is
 * rebuilt, so readiness recovers by itself when the broker is back.
 */
export function createKafkaProbe(kafka: KafkaClient) {
  let admin: Admin | undefined;
  const fresh = async (): Promise<Admin> => {
    if (admin) return admin;
    const created = kafka.admin({ retry: { retries: 0 } });
    await created.connect();
    admin = created;
    return created;
  };
  const reset = async (): Promise<void> => {
    const current = admin;
    admin = undefined;
    await current?.disconnect().catch(() => undefined);
  };
  return {
    name: "kafka",
    async describe(): Promise<BrokerInfo> {
      try {
        const a = await fresh();
        const cluster = await a.describeCluster();
        return {
          clusterId: cluster.clusterId,
          brokers: cluster.brokers,
          controller: cluster.controller,
        };
      } catch (error) {
        await reset();
        throw error;
      }
    },
    async check(): Promise<void> {
      await this.describe();
    },
    close: reset,
  };
}

/**
 * Every producer Parley creates: idempotent, one request in flight (retries keep order), the
 * Java client's partitioner (murmur2, so keys land where any other Kafka client puts them and
 * co-partitioned topics stay aligned), and a bounded retry budget so a send that cannot be
 * delivered fails within seconds instead of retrying forever.
 */
export function createProducer(
  kafka: KafkaClient,
  config: Omit<ProducerConfig, "createPartitioner"> = {},
): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 3_000 },
    ...config,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}
