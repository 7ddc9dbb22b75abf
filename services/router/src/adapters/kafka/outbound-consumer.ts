import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { OutboundHandler } from "../../outbound/handler.js";
import { eventsOf } from "./decode.js";

/** The consumer's stable name: its group and its dead-letter topic derive from it. */
export const ROUTER_OUTBOUND_CONSUMER = "router-outbound";

/** What the outbound side acts on; other events of its topics are skipped. */
const isOutboundInput = eventsOf(
  "SendRequested",
  "ConsentGranted",
  "ConsentRevoked",
  "ConversationWindowOpened",
  "ConversationWindowExtended",
);

export interface OutboundConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly handler: OutboundHandler;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
  /** Milliseconds from a record's append (its timestamp) to its handler starting. */
  readonly observeQueued?: (ms: number) => void;
}

/**
 * send-requests, consent and conversation-windows (all contact-keyed, so one contact's records
 * are handled one at a time by this instance) -> the outbound handler. Translation only: other
 * event types on those topics (UserPreferencesUpdated: the router already turned it into consent)
 * are skipped, and every failure carries its retry decision for the runner (ADR 0003): MongoDB,
 * the broker or a first catalog sync unavailable is an outage, waited out on the key without
 * bound, so a contact's later requests never overtake an earlier one; a lost version race is
 * bounded; anything else is dead-lettered.
 */
export function createOutboundConsumer({
  kafka,
  serde,
  catalog,
  handler,
  logger,
  tuning,
  observeQueued,
}: OutboundConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: ROUTER_OUTBOUND_CONSUMER,
    topics: [
      catalog.topic("send-requests"),
      catalog.topic("consent"),
      catalog.topic("conversation-windows"),
    ],
    ...(logger ? { logger } : {}),
    ...(tuning ? { tuning } : {}),
    handle: async (record) => {
      const event = record.value;
      if (!isOutboundInput(event)) return;
      if (observeQueued !== undefined && record.attempt === 1) {
        observeQueued(Date.now() - Number(record.timestamp));
      }
      await handler.handle(event);
    },
  });
}
