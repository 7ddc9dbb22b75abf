import { infraFields } from "@parley/config";
import {
  kafkaSecurityOf,
  registryOptionsOf,
  type KafkaConnectionOptions,
  type RegistryOptions,
} from "@parley/kafka";
import type { MongoOptions } from "@parley/mongo";
import { mongoSecurityOf } from "@parley/runtime";
import type { z } from "zod";
import { configFields } from "./config.js";

/** A `.pick()` mask of every field of `fields`. */
const every = <T extends object>(fields: T) =>
  Object.fromEntries(Object.keys(fields).map((key) => [key, true])) as { [K in keyof T]: true };

/**
 * What `parley-projection` reads: every shared connection setting the service reads (brokers,
 * Kafka TLS and SASL, the registry's credentials and CA, MongoDB's credentials and TLS), so the
 * CLI reaches whatever the service reaches, and the projection's own tuning. Picked from the
 * config's fields, not the refined schema (zod refuses .pick() on a schema with refinements).
 */
export const cliSchema = configFields.pick({
  ...every(infraFields),
  LOG_LEVEL: true,
  HEAP_GROWING_PERCENT: true,
  CPU_NICE: true,
  PARLEY_TOPIC_PREFIX: true,
  PROJECTION_COLLECTION_PREFIX: true,
  PROJECTION_MAX_IN_FLIGHT: true,
  PROJECTION_CACHE_SIZE: true,
  PROJECTION_BATCH_KEYS: true,
  PROJECTION_APPLY_BATCH: true,
  PROJECTION_MARK_DELAY_MS: true,
  PROJECTION_MARK_ON_NEXT_SAVE: true,
  PROJECTION_REBUILD_CATCH_UP_RECORDS: true,
});

export type CliConfig = z.infer<typeof cliSchema>;

/** The CLI's connections, from its configuration as the chassis builds the service's. */
export function connectionsOf(config: CliConfig): {
  readonly kafka: Omit<KafkaConnectionOptions, "logger">;
  readonly registry: RegistryOptions;
  readonly mongo: MongoOptions;
} {
  return {
    kafka: {
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID ?? "parley-projection-cli",
      // Not KAFKA_GROUP_INSTANCE_ID: that is the service process's own static membership.
      group: {
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
        heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
      },
      security: kafkaSecurityOf(config),
    },
    registry: registryOptionsOf(config),
    mongo: {
      url: config.MONGO_URL,
      database: config.MONGO_DB,
      appName: "parley-projection-cli",
      ...mongoSecurityOf(config),
    },
  };
}
