import kafkajs, {
  Kafka,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Admin,
  type Producer,
  type ProducerConfig,
} from "kafkajs";

// kafkajs is CommonJS; Node's ESM loader does not see this one as a named export.
const { Partitioners } = kafkajs;

type LogFn = (fields: Record<string, unknown>, message: string) => void;
export interface KafkaLogger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

export interface KafkaConnectionOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger?: KafkaLogger;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export type KafkaClient = Kafka;

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
}: KafkaConnectionOptions): KafkaClient {
  if (brokers.length === 0)
    throw new Error("createKafka: `brokers` is empty; set KAFKA_BROKERS=host:port[,host:port]");
  return new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(logger),
  });
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
