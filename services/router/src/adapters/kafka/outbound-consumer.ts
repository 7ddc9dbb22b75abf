import type { AnyEvent, Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  isRetriable,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { OutboundHandler, OutboundInput } from "../../outbound/handler.js";

/** The consumer's stable name: its group and its dead-letter topic derive from it. */
export const ROUTER_OUTBOUND_CONSUMER = "router-outbound";

const INPUTS = new Set<string>([
  "SendRequested",
  "ConsentGranted",
  "ConsentRevoked",
  "ConversationWindowOpened",
  "ConversationWindowExtended",
]);
const isInput = (event: AnyEvent): event is OutboundInput => INPUTS.has(event.type);

export interface OutboundConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly handler: OutboundHandler;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
  /** Milliseconds from a record's append (its timestamp) to its handler starting. */
  readonly observeQueued?: (ms: number) => void;
  /** Back-off while MongoDB, the broker or a first catalog sync is unavailable: up to this. */
  readonly maxOutageDelayMs?: number;
}

/**
 * send-requests, consent and conversation-windows (all contact-keyed, so one contact's records
 * are handled one at a time by this instance) -> the outbound handler. Translation only: other
 * event types on those topics (UserPreferencesUpdated: the router already turned it into consent)
 * are skipped; retriable failures are waited out on the key, so a contact's later requests never
 * overtake an earlier one; anything else is dead-lettered by the runner.
 */
export function createOutboundConsumer({
  kafka,
  serde,
  catalog,
  handler,
  logger,
  tuning,
  observeQueued,
  maxOutageDelayMs = 30_000,
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
    handle: async (record, signal) => {
      const event = record.value as AnyEvent;
      if (!isInput(event)) return;
      if (observeQueued !== undefined && record.attempt === 1) {
        observeQueued(Date.now() - Number(record.timestamp));
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await handler.handle(event);
          return;
        } catch (error) {
          if (!isRetriable(error) || signal.aborted) throw error;
          const delayMs = Math.min(maxOutageDelayMs, 200 * 2 ** Math.min(attempt - 1, 20));
          logger?.warn(
            {
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              attempt,
              delayMs,
              err: error instanceof Error ? error.message : String(error),
            },
            "router-outbound: waiting for MongoDB, the broker or a template catalog",
          );
          await sleep(delayMs, signal);
        }
      }
    },
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
