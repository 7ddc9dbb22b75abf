import type { Catalog, EventName, EventOf, TopicSpec } from "@parley/contracts";
import type { KafkaClient, KafkaLogger } from "./connection.js";
import { PoisonRecordError } from "./errors.js";
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions } from "./runner.js";
import type { Serde } from "./serde.js";

/**
 * Options of a consumer of catalog topics carrying events `N`: its handler receives those
 * events, typed from the catalog (`catalog.topic(id)` narrows `N`), because every record is
 * decoded and checked against its topic's contract before the handler sees it.
 */
export interface EventConsumerOptions<N extends EventName = EventName> {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  /** The consuming service or component, e.g. "router-inbound": names the group and the dead-letter topic. */
  readonly consumer: string;
  readonly topics: readonly TopicSpec<N>[];
  /** In transactional mode (`tuning.transactional`) it hands its outputs to `context.publish`. */
  readonly handle: ConsumerRunnerOptions<EventOf<N>>["handle"];
  readonly logger?: KafkaLogger;
  readonly tuning?: Pick<
    ConsumerRunnerOptions<EventOf<N>>,
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
export function createEventConsumer<N extends EventName>({
  kafka,
  serde,
  catalog,
  consumer,
  topics,
  handle,
  logger,
  tuning = {},
}: EventConsumerOptions<N>): ConsumerRunner {
  const byName = new Map<string, TopicSpec<N>>(topics.map((t) => [t.name, t]));
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
      // The serde checks the value against the topic's contract: a union of exactly its events.
      return serde.decode(topic, record.value) as Promise<EventOf<N>>;
    },
    handle,
    maxBytesPerPartition: largest,
    ...(logger ? { logger } : {}),
    ...tuning,
  });
}
