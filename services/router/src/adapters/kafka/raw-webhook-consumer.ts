import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  PoisonRecordError,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { InboundHandler } from "../../inbound/handler.js";
import { parseWebhook, type ParseInput } from "../../inbound/parse.js";

/** The consumer's stable name: its group and its dead-letter topic derive from it. */
export const ROUTER_INBOUND_CONSUMER = "router-inbound";

export interface RawWebhookConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly handler: InboundHandler;
  readonly clock: () => Date;
  /** The parser; injectable so a test can play "the parser had a bug, then it was fixed". */
  readonly parse?: (input: ParseInput) => ReturnType<typeof parseWebhook>;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
}

/**
 * raw-webhooks -> parsed events -> the per-contact handler. Translation only: a record that is
 * not a RawWebhookReceived, or a body that is not a webhook, is not retriable and goes to the
 * router-inbound dead-letter topic with its raw-topic coordinates; store and broker failures are
 * retriable and retried in place on the same key.
 */
export function createRawWebhookConsumer({
  kafka,
  serde,
  catalog,
  handler,
  clock,
  parse = parseWebhook,
  logger,
  tuning,
}: RawWebhookConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: ROUTER_INBOUND_CONSUMER,
    topics: [catalog.topic("raw-webhooks")],
    ...(logger ? { logger } : {}),
    ...(tuning ? { tuning } : {}),
    handle: async (record) => {
      const raw = record.value as { type?: unknown };
      if (raw.type !== "RawWebhookReceived") {
        throw new PoisonRecordError(`expected RawWebhookReceived, got ${String(raw.type)}`);
      }
      const event = record.value as ParseInput["raw"];
      const body = Buffer.from(event.data.bodyBase64, "base64").toString("utf8");
      await handler.handle(parse({ raw: event, body, now: clock() }));
    },
  });
}
