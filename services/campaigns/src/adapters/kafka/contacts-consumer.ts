import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { Db } from "mongodb";
import { applyContactEvent } from "../store/contacts.js";

/** The consumer's stable name: group parley.campaigns-contacts, dead letters parley.dlq.campaigns-contacts. */
export const CONTACTS_CONSUMER = "campaigns-contacts";

/**
 * consent and conversation-windows -> campaign_contacts (what a plan checks per recipient).
 * Translation only; the fold is idempotent and order-insensitive, an unavailable MongoDB is an
 * outage waited out on the key (guardStore's decision).
 */
export function createContactsConsumer({
  kafka,
  serde,
  catalog,
  db,
  logger,
}: {
  kafka: KafkaClient;
  serde: Serde;
  catalog: Catalog;
  db: Db;
  logger?: KafkaLogger;
}): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: CONTACTS_CONSUMER,
    topics: [catalog.topic("consent"), catalog.topic("conversation-windows")],
    ...(logger ? { logger } : {}),
    tuning: { fromBeginning: true },
    handle: async (record) => {
      await applyContactEvent(db, record.value);
    },
  });
}
