import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  isRetriable,
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
  /** Back-off while MongoDB or the broker is unavailable: doubling from 200 ms up to this. */
  readonly maxOutageDelayMs?: number;
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
  maxOutageDelayMs = 30_000,
}: RawWebhookConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: ROUTER_INBOUND_CONSUMER,
    topics: [catalog.topic("raw-webhooks")],
    ...(logger ? { logger } : {}),
    ...(tuning ? { tuning } : {}),
    handle: async (record, signal) => {
      const raw = record.value as { type?: unknown };
      if (raw.type !== "RawWebhookReceived") {
        throw new PoisonRecordError(`expected RawWebhookReceived, got ${String(raw.type)}`);
      }
      const event = record.value as ParseInput["raw"];
      const body = Buffer.from(event.data.bodyBase64, "base64").toString("utf8");
      const facts = parse({ raw: event, body, now: clock() });
      // A raw webhook is the source of truth: an outage (retriable) is waited out on this key
      // rather than dead-lettered, which would also let the contact's later webhooks overtake
      // it. On shutdown the runner hands the record back uncommitted.
      for (let attempt = 1; ; attempt++) {
        try {
          await handler.handle(facts);
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
            "router-inbound: waiting for MongoDB or the broker",
          );
          await sleep(delayMs, signal);
        }
      }
    },
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
