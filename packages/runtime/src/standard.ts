import { ConfigError } from "@parley/config";
import {
  checkGroupSettings,
  createKafka,
  createKafkaProbe,
  createRegistryProbe,
  checkKafkaAccess,
  kafkaSecurityOf,
  registryAccessProblem,
  registryOptionsOf,
  setConsumerSpansExported,
  type GroupSettings,
  type KafkaClient,
  type KafkaSecurityConfig,
  type RegistryConfig,
} from "@parley/kafka";
import { createMongo, mongoAccessProblem, type MongoConnection } from "@parley/mongo";
import {
  createLogger,
  createMetrics,
  type Logger,
  type LogLevel,
  type Metrics,
  type Telemetry,
} from "@parley/telemetry";
import { tlsFilesOf } from "./api-listener.js";
import { limitHeapGrowth } from "./heap.js";
import { applyCpuNice } from "./priority.js";
import { createKafkaMetrics } from "./kafka-metrics.js";
import type { ReadinessCheck } from "./readiness.js";
import { runService, type Component, type RunningService } from "./run-service.js";

/** The variables every service shares (see `infraFields` and `chassisFields` in @parley/config). */
export interface StandardConfig extends KafkaSecurityConfig, RegistryConfig, MongoSecurityConfig {
  readonly LOG_LEVEL: LogLevel;
  readonly HTTP_HOST: string;
  readonly HTTP_PORT: number;
  readonly OPS_TOKEN: string;
  readonly SHUTDOWN_TIMEOUT_MS: number;
  readonly READINESS_TIMEOUT_MS: number;
  readonly HEAP_GROWING_PERCENT: number;
  readonly CPU_NICE: number;
  readonly MONGO_COMMAND_METRICS: boolean;
  readonly KAFKA_BROKERS: readonly string[];
  readonly KAFKA_CLIENT_ID?: string | undefined;
  readonly KAFKA_GROUP_INSTANCE_ID?: string | undefined;
  readonly KAFKA_SESSION_TIMEOUT_MS: number;
  readonly KAFKA_HEARTBEAT_INTERVAL_MS: number;
  readonly SCHEMA_REGISTRY_URL: string;
  readonly MONGO_URL: string;
  readonly MONGO_DB: string;
  readonly HTTP_TLS_CERT_PATH?: string | undefined;
  readonly HTTP_TLS_KEY_PATH?: string | undefined;
  readonly HTTP_TLS_RELOAD_INTERVAL_MS?: number | undefined;
}

/** The shared MongoDB security variables (`mongoSecurityFields` in @parley/config), as parsed. */
export interface MongoSecurityConfig {
  readonly MONGO_USERNAME?: string | undefined;
  readonly MONGO_PASSWORD?: string | undefined;
  readonly MONGO_AUTH_SOURCE?: string | undefined;
  readonly MONGO_TLS: boolean;
  readonly MONGO_TLS_CA?: string | undefined;
  readonly MONGO_TLS_CERT?: string | undefined;
  readonly MONGO_TLS_KEY?: string | undefined;
}

/** createMongo's auth and tls options from the variables (the URL's own when unset). */
export function mongoSecurityOf(config: MongoSecurityConfig) {
  return {
    auth:
      config.MONGO_USERNAME !== undefined && config.MONGO_PASSWORD !== undefined
        ? {
            username: config.MONGO_USERNAME,
            password: config.MONGO_PASSWORD,
            source: config.MONGO_AUTH_SOURCE,
          }
        : undefined,
    tls: config.MONGO_TLS
      ? { ca: config.MONGO_TLS_CA, cert: config.MONGO_TLS_CERT, key: config.MONGO_TLS_KEY }
      : undefined,
  };
}

/**
 * One round trip to a server at start: a refusal no retry can fix (a wrong password, an
 * untrusted certificate) stops the start with a configuration error naming the setting (exit
 * 78) instead of a client retrying forever; an outage is only logged, and readiness reports it.
 */
async function checkAccess(
  service: string,
  server: string,
  attempt: () => Promise<unknown>,
  problemOf: (error: unknown) => string | undefined,
  logger: Logger,
): Promise<void> {
  try {
    await attempt();
  } catch (error) {
    const problem = problemOf(error);
    if (problem !== undefined) throw new ConfigError(service, [problem]);
    logger.warn({ err: error }, `${service}: ${server} not reachable at start; waiting for it`);
  }
}

/** Which servers a service talks to; each becomes a readiness check and is closed on shutdown. */
export interface Uses {
  readonly kafka: boolean;
  readonly registry: boolean;
  readonly mongo: boolean;
}

/**
 * What the chassis hands a service's `start`: its logger and metrics, and exactly the
 * connections it declared in `uses` (typed as present, so no service checks for them).
 */
export type Dependencies<U extends Uses = Uses> = {
  readonly logger: Logger;
  readonly metrics: Metrics;
} & (U["kafka"] extends true ? { readonly kafka: KafkaClient } : unknown) &
  (U["mongo"] extends true ? { readonly mongo: MongoConnection } : unknown);

export interface StandardServiceOptions<U extends Uses> {
  readonly name: string;
  readonly config: StandardConfig;
  readonly telemetry: Telemetry;
  readonly uses: U;
  /** The service's own work (consumers, producers, HTTP routes), started once the chassis is up. */
  readonly start?: (
    deps: Dependencies<U>,
  ) => Promise<{ checks?: readonly ReadinessCheck[]; components?: readonly Component[] }>;
  /** Injectable for tests, as in runService; default the real process. */
  readonly exit?: (code: number) => void;
  readonly processEvents?: Pick<NodeJS.Process, "on" | "off">;
}

/** The consumer group settings of KAFKA_GROUP_INSTANCE_ID, KAFKA_SESSION_TIMEOUT_MS and KAFKA_HEARTBEAT_INTERVAL_MS. */
export function kafkaGroupSettings(config: StandardConfig): GroupSettings {
  const settings: GroupSettings = {
    instanceId: config.KAFKA_GROUP_INSTANCE_ID,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
  };
  try {
    checkGroupSettings(settings);
  } catch (error) {
    throw new RangeError(
      `KAFKA_GROUP_INSTANCE_ID, KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS: ${(error as Error).message}`,
    );
  }
  return settings;
}

/**
 * Composes a service on the shared chassis: logger, metrics, connections to the servers it
 * uses with readiness checks for each, the ops endpoints and graceful shutdown.
 */
export async function runStandardService<const U extends Uses>({
  name,
  config,
  telemetry,
  uses,
  start,
  exit,
  processEvents,
}: StandardServiceOptions<U>): Promise<RunningService> {
  limitHeapGrowth(config.HEAP_GROWING_PERCENT);
  // Without an exporter a span per consumed record goes nowhere: records are handled in their
  // own trace context instead (trace ids in logs and on what they publish stay the same).
  setConsumerSpansExported(telemetry.tracesEndpoint !== undefined);
  const logger = createLogger({ service: name, level: config.LOG_LEVEL });
  // Before the connections and consumers start: what they do runs at the service's priority.
  applyCpuNice(config.CPU_NICE, logger);
  const metrics = createMetrics({ service: name });
  // Consumer lag and dead letters of every consumer the service makes from its Kafka client.
  const kafkaMetrics = createKafkaMetrics(metrics);
  return runService({
    name,
    logger,
    telemetry,
    metrics: async () => {
      await kafkaMetrics.refresh();
      return metrics.metrics();
    },
    metricsContentType: metrics.contentType,
    ops: {
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      token: config.OPS_TOKEN,
      tls: tlsFilesOf(config),
      readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
    },
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    ...(exit === undefined ? {} : { exit }),
    ...(processEvents === undefined ? {} : { processEvents }),
    start: async (context) => {
      const checks: ReadinessCheck[] = [];
      const components: Component[] = [];
      let kafka: KafkaClient | undefined;
      let mongo: MongoConnection | undefined;
      if (uses.kafka) {
        const security = kafkaSecurityOf(config);
        kafka = createKafka({
          brokers: config.KAFKA_BROKERS,
          clientId: config.KAFKA_CLIENT_ID ?? `parley-${name}`,
          logger,
          // Every consumer made from this client starts from these (createConsumerRunner).
          group: kafkaGroupSettings(config),
          observer: kafkaMetrics.observer,
          security,
        });
        kafkaMetrics.attach(kafka);
        const client = kafka;
        const probe = createKafkaProbe(kafka);
        checks.push(probe);
        components.push({ name: "kafka admin", stop: probe.close });
        const access = await checkKafkaAccess({
          brokers: config.KAFKA_BROKERS,
          clientId: `parley-${name}-access-check`,
          security,
        });
        if (!access.ok) {
          if (access.problem !== undefined) throw new ConfigError(name, [access.problem]);
          logger.warn(
            { err: access.error, hint: access.hint },
            `${name}: Kafka not reachable at start (${access.hint}); waiting for it`,
          );
        }
        // What the producers and consumers made from this client report about themselves (a
        // consumer joining its group, a producer that could not recover): no service wires it.
        context.report(() => client.health.entries());
        components.push({ name: "kafka lag reader", stop: () => kafkaMetrics.close() });
      }
      if (uses.registry) {
        const probe = createRegistryProbe(registryOptionsOf(config));
        checks.push(probe);
        await checkAccess(
          name,
          "the schema registry",
          () => probe.check(AbortSignal.timeout(config.READINESS_TIMEOUT_MS)),
          registryAccessProblem,
          logger,
        );
      }
      if (uses.mongo) {
        // The round trips to MongoDB, by command, when asked (MONGO_COMMAND_METRICS: the
        // driver's command monitoring decodes every reply twice; the benchmarks turn it on).
        const commands = config.MONGO_COMMAND_METRICS
          ? metrics.counter<"command">({
              name: "mongo_commands_total",
              help: "Commands sent to MongoDB by this process, by command name (MONGO_COMMAND_METRICS=true).",
              labelNames: ["command"],
            })
          : undefined;
        const connection = createMongo({
          url: config.MONGO_URL,
          database: config.MONGO_DB,
          appName: `parley-${name}`,
          ...mongoSecurityOf(config),
          ...(commands === undefined
            ? {}
            : {
                onCommand: (command: string) => {
                  commands.inc({ command });
                },
              }),
        });
        mongo = connection;
        checks.push(connection.probe);
        components.push({ name: "mongodb", stop: () => connection.close() });
        await checkAccess(
          name,
          "MongoDB",
          () => connection.probe.check(AbortSignal.timeout(config.READINESS_TIMEOUT_MS)),
          mongoAccessProblem,
          logger,
        );
      }
      // The connections are made exactly as `uses` declares, which is what Dependencies<U> says.
      const deps = {
        logger,
        metrics,
        ...(kafka ? { kafka } : {}),
        ...(mongo ? { mongo } : {}),
      } as Dependencies<U>;
      const own = start ? await start(deps) : {};
      // The service's own components stop first (they use the connections above).
      return {
        checks: [...checks, ...(own.checks ?? [])],
        components: [...components, ...(own.components ?? [])],
      };
    },
  });
}
