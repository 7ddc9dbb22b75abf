import type { Catalog, TopicSpec } from "@parley/contracts";
import type { KafkaClient, KafkaLogger } from "./connection.js";
import { PoisonRecordError } from "./errors.js";
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions } from "./runner.js";
import type { Serde } from "./serde.js";

export interface EventConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  /** The consuming service or component, e.g. "router-inbound": names the group and the dead-letter topic. */
  readonly consumer: string;
  readonly topics: readonly TopicSpec[];
  /** In transactional mode (`tuning.transactional`) it hands its outputs to `context.publish`. */
  readonly handle: ConsumerRunnerOptions<unknown>["handle"];
  readonly logger?: KafkaLogger;
  readonly tuning?: Pick<
    ConsumerRunnerOptions<unknown>,
    | "retry"
    | "maxInFlight"
    | "maxInFlightPerPartition"
    | "commitIntervalMs"
    | "fromBeginning"
    | "sessionTimeoutMs"
    | "heartbeatIntervalMs"
    | "groupInstanceId"
    | "concurrencyKeyOf"
    | "setAside"
    | "transactional"
  >;
}

/**
 * A consumer runner over catalog topics: records are decoded through the registry and checked
 * against their topic's contract (a mismatch is a poison record), failures go to the
 * consumer's own dead-letter topic from the catalog.
 */
export function createEventConsumer({
  kafka,
  serde,
  catalog,
  consumer,
  topics,
  handle,
  logger,
  tuning = {},
}: EventConsumerOptions): ConsumerRunner {
  const byName = new Map(topics.map((t) => [t.name, t]));
  // Fetch at least one whole record of the largest size the topics allow.
  const largest = Math.max(1024 * 1024, ...topics.map((t) => t.maxRecordBytes));
  return createConsumerRunner({
    kafka,
    groupId: `${catalog.prefix}parley.${consumer}`,
    topics: topics.map((t) => t.name),
    deadLetterTopic: catalog.deadLetterTopic(consumer).name,
    decode: (record) => {
      const topic = byName.get(record.topic);
      if (!topic) throw new PoisonRecordError(`no contract for topic ${record.topic}`);
      return serde.decode(topic, record.value);
    },
    handle,
    maxBytesPerPartition: largest,
    ...(logger ? { logger } : {}),
    ...tuning,
  });
}
