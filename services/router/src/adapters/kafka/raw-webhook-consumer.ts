import type { AnyEvent, Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  isRetriable,
  PoisonRecordError,
  type ConsumedRecord,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import { ContactGate, type GateOutcome } from "../../inbound/contact-gate.js";
import { isFact, stateKeyOf } from "../../inbound/decide.js";
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

/** A webhook that must not overtake an earlier one of its contacts that was handed back. */
class HandedBackError extends Error {
  override readonly name = "HandedBackError";
  readonly retriable = true;
  constructor() {
    super("an earlier webhook of the same contact was handed back; so is this one");
  }
}

type Raw = ConsumedRecord<unknown>;
const idOf = (record: Raw): string =>
  `${record.topic}\u0000${String(record.partition)}\u0000${record.offset}`;

/**
 * raw-webhooks -> parsed events -> the per-contact handler. Translation only: a record that is
 * not a RawWebhookReceived, or a body that is not a webhook, is not retriable and goes to the
 * router-inbound dead-letter topic with its raw-topic coordinates; store and broker failures are
 * retriable and retried in place on the same key.
 *
 * Concurrency: the raw topic is keyed by business number, but order only matters per contact.
 * The runner decodes one number's records in offset order and calls `concurrencyKeyOf` for each
 * in that order; that is where the webhook is parsed and admitted to the contact gate under its
 * contacts. Every record then runs at once (its own concurrency key), and waits in the gate only
 * behind earlier webhooks sharing a contact, so the handler sees many webhooks together and can
 * batch them, while each contact's webhooks still take effect in raw-topic order.
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
  const gate = new ContactGate<readonly AnyEvent[]>();
  const admit = (record: Raw): void => {
    const raw = record.value as { type?: unknown };
    if (raw.type !== "RawWebhookReceived") {
      throw new PoisonRecordError(`expected RawWebhookReceived, got ${String(raw.type)}`);
    }
    const event = record.value as ParseInput["raw"];
    const body = Buffer.from(event.data.bodyBase64, "base64").toString("utf8");
    const facts = parse({ raw: event, body, now: clock() });
    gate.admit(
      idOf(record),
      facts.map((fact) => (isFact(fact) ? stateKeyOf(fact) : "")),
      facts,
    );
  };
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: ROUTER_INBOUND_CONSUMER,
    topics: [catalog.topic("raw-webhooks")],
    ...(logger ? { logger } : {}),
    tuning: {
      ...tuning,
      concurrencyKeyOf: (record) => {
        admit(record);
        return record.offset;
      },
    },
    handle: async (record, signal) => {
      let ticket = gate.claim(idOf(record));
      if (ticket === undefined) {
        // A retry of a record handed back by the gate: it queues again behind what is in flight.
        admit(record);
        ticket = gate.claim(idOf(record));
      }
      if (ticket === undefined)
        throw new Error("router-inbound: a webhook admitted is not in the gate");
      const stopping = (): boolean => signal.aborted;
      let outcome: GateOutcome = "handed-back";
      try {
        if ((await ticket.turn) === "handed-back" || stopping()) throw new HandedBackError();
        // A raw webhook is the source of truth: an outage (retriable) is waited out on this key
        // rather than dead-lettered, which would also let the contact's later webhooks overtake
        // it. On shutdown the runner hands the record back uncommitted.
        for (let attempt = 1; ; attempt++) {
          try {
            await handler.handle(ticket.payload);
            outcome = "done";
            return;
          } catch (error) {
            if (!isRetriable(error) || stopping()) throw error;
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
      } catch (error) {
        // Dead-lettered (never retried): the contact's later webhooks go on, as before.
        if (!isRetriable(error)) outcome = "done";
        throw error;
      } finally {
        ticket.leave(outcome);
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
