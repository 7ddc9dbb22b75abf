import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";

/** The consumer's stable name: group `parley.media-erasure`, dead letters `parley.dlq.media-erasure`. */
export const MEDIA_ERASURE_CONSUMER = "media-erasure";

export interface ErasureConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  /** Deletes every stored or downloading object of the contact (MediaObjects.erase). */
  readonly erase: (contactId: string) => Promise<number>;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
}

/**
 * consent -> ContactErased -> the contact's media deleted (ADR 0013, "Erasure during a
 * download"). Translation only: every other consent fact is skipped; the erasure is idempotent
 * (a redelivered record deletes nothing more), and its failures carry their retry decision
 * (a storage outage is waited out, holding the contact's later records).
 */
export function createErasureConsumer({
  kafka,
  serde,
  catalog,
  erase,
  logger,
  tuning,
}: ErasureConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: MEDIA_ERASURE_CONSUMER,
    topics: [catalog.topic("consent")],
    handle: async (record) => {
      const event = record.value;
      if (event.type !== "ContactErased") return;
      await erase(event.data.contactId);
    },
    ...(logger === undefined ? {} : { logger }),
    ...(tuning === undefined ? {} : { tuning }),
  });
}
