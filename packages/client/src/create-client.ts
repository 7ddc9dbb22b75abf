import { createCatalog, type Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type KafkaLogger,
  type KafkaSecurity,
  type RegistryOptions,
} from "@parley/kafka";
import { createClientFromParts, type ParleyClient } from "./client.js";
import { InvalidClientOptionsError } from "./errors.js";

export interface ParleyClientOptions {
  /** `host:port` entries, as an array or comma-separated (the form of KAFKA_BROKERS). */
  readonly brokers: readonly string[] | string;
  /** The Confluent-compatible registry API, e.g. http://127.0.0.1:8081 (SCHEMA_REGISTRY_URL). */
  readonly schemaRegistryUrl: string;
  /** Your service's name, e.g. "orders": shows up in broker logs and quotas. */
  readonly clientId: string;
  /** Topic prefix of the Parley installation (default none); tests use a random one. */
  readonly prefix?: string;
  /** pino-style `(fields, message)` logger; kafkajs warnings and errors go through it. */
  readonly logger?: KafkaLogger;
  /** TLS and SASL to the brokers, as the services take them (docs/security.md); none by default. */
  readonly security?: KafkaSecurity;
  /** Basic auth and a CA bundle for the registry, when it asks for them. */
  readonly registry?: Omit<RegistryOptions, "url">;
}

const HOST_PORT = /^[^\s:/]+:(\d{1,5})$/;

interface ValidOptions {
  readonly brokers: readonly string[];
  readonly catalog: Catalog;
}

/** Every problem of the options at once, each with its fix. */
export function checkClientOptions({
  brokers,
  schemaRegistryUrl,
  clientId,
  prefix = "",
}: Omit<ParleyClientOptions, "logger">): ValidOptions {
  const problems: string[] = [];
  const list: readonly unknown[] =
    typeof brokers === "string"
      ? brokers.split(",").map((b) => b.trim())
      : Array.isArray(brokers)
        ? brokers
        : [];
  const given = list.filter((b) => b !== "");
  if (given.length === 0) {
    problems.push(
      'brokers is empty: pass host:port entries, e.g. ["127.0.0.1:9092"] or process.env.KAFKA_BROKERS',
    );
  }
  for (const broker of given) {
    const port = typeof broker === "string" ? HOST_PORT.exec(broker)?.[1] : undefined;
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      problems.push(
        `brokers: ${JSON.stringify(broker)} is not host:port; write e.g. "kafka-1:9092" (no scheme, no path)`,
      );
    }
  }
  let url: URL | undefined;
  try {
    url = new URL(schemaRegistryUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    problems.push(
      `schemaRegistryUrl ${JSON.stringify(schemaRegistryUrl)} is not an http(s) URL; write e.g. "http://127.0.0.1:8081" (the value of SCHEMA_REGISTRY_URL)`,
    );
  }
  if (typeof clientId !== "string" || clientId.trim() === "") {
    problems.push('clientId is empty: name your service, e.g. "orders"');
  }
  let catalog: Catalog | undefined;
  try {
    catalog = createCatalog({ prefix });
  } catch (error) {
    problems.push(
      `prefix: ${error instanceof Error ? error.message : String(error)}; use the installation's PARLEY_TOPIC_PREFIX (usually none)`,
    );
  }
  if (problems.length > 0 || catalog === undefined) throw new InvalidClientOptionsError(problems);
  return { brokers: given as string[], catalog };
}

/**
 * Parley's client for domain services: typed, validated send requests and typed consumers of
 * send outcomes and statuses. Nothing connects until `connect()`, the first `requestSend` or a
 * subscription; impossible options throw InvalidClientOptionsError here.
 */
export function createParleyClient({
  brokers: brokerList,
  schemaRegistryUrl,
  clientId,
  prefix = "",
  logger,
  security,
  registry,
}: ParleyClientOptions): ParleyClient {
  const { brokers, catalog } = checkClientOptions({
    brokers: brokerList,
    schemaRegistryUrl,
    clientId,
    prefix,
  });
  const kafka = createKafka({
    brokers,
    clientId,
    ...(logger ? { logger } : {}),
    ...(security ? { security } : {}),
  });
  const serde = createSerde({ registry: createRegistry({ ...registry, url: schemaRegistryUrl }) });
  const producer = createEventProducer({ kafka, serde, name: `${clientId} send requests` });
  return createClientFromParts({
    catalog,
    producer,
    logger,
    async subscribe({
      consumer,
      topic,
      handle,
      fromBeginning,
      retry,
      maxInFlight,
      ensureDeadLetterTopic,
    }) {
      if (ensureDeadLetterTopic) {
        const deadLetters = catalog.deadLetterTopic(consumer);
        // -1: the broker's default replication factor (KIP-464), right for any cluster size.
        const report = await provisionTopics({
          kafka,
          topics: [deadLetters],
          replicationFactor: -1,
        });
        for (const drift of report.drift) {
          logger?.warn(
            { topic: drift.topic },
            `dead-letter topic differs from the catalog: ${drift.problem}`,
          );
        }
      }
      const runner = createEventConsumer({
        kafka,
        serde,
        catalog,
        consumer,
        topics: [topic],
        handle,
        ...(logger ? { logger } : {}),
        tuning: { fromBeginning, retry, ...(maxInFlight === undefined ? {} : { maxInFlight }) },
      });
      try {
        await runner.start();
      } catch (error) {
        await runner.stop().catch(() => undefined);
        throw error;
      }
      return runner;
    },
  });
}
