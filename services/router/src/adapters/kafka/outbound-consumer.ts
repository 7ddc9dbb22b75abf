import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  PROMPT_COMMIT_INTERVAL_MS,
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
/**
 * The gates' consumer (consent and conversation-windows), apart from the send requests so that
 * an opt-out is applied however long the queue of requests (ADR 0005, "Gates apart").
 */
export const ROUTER_GATES_CONSUMER = "router-gates";

/** Each part's consumer and topics; `all` is one consumer of the three (tests). */
const PARTS = {
  all: {
    consumer: ROUTER_OUTBOUND_CONSUMER,
    topics: ["send-requests", "consent", "conversation-windows"],
  },
  requests: { consumer: ROUTER_OUTBOUND_CONSUMER, topics: ["send-requests"] },
  gates: { consumer: ROUTER_GATES_CONSUMER, topics: ["consent", "conversation-windows"] },
} as const;

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
  /**
   * Which topics this consumer reads: `requests` (send-requests, group router-outbound), `gates`
   * (consent and conversation-windows, group router-gates), or `all` (the three in one group,
   * the default).
   */
  readonly part?: keyof typeof PARTS;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
  /** Milliseconds from a record's append (its timestamp) to its handler starting. */
  readonly observeQueued?: (ms: number) => void;
}

/**
 * send-requests, consent and conversation-windows (all contact-keyed and co-partitioned, so one
 * instance owns a contact's records of the three; the handler decides a contact's inputs one at
 * a time, whichever consumer brings them) -> the outbound handler. Translation only: other
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
  part = "all",
  logger,
  tuning,
  observeQueued,
}: OutboundConsumerOptions): ConsumerRunner {
  const { consumer, topics } = PARTS[part];
  // The gates commit promptly: their group's committed offset on consent is when an opt-out
  // is seen applied (ADR 0005, "Gates apart").
  const prompt = part === "gates" ? { commitIntervalMs: PROMPT_COMMIT_INTERVAL_MS } : {};
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer,
    topics: topics.map((id) => catalog.topic(id)),
    ...(logger ? { logger } : {}),
    tuning: { ...prompt, ...tuning },
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
