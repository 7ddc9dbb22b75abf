import type { Catalog } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import {
  createEventConsumer,
  defaultRetryPolicy,
  PoisonRecordError,
  retryOf,
  type ConsumedRecord,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import { ContactGate, type GateOutcome, type GateTicket } from "../../inbound/contact-gate.js";
import { isFact, stateKeyOf } from "../../inbound/decide.js";
import { eventBudgetOf } from "../../inbound/fit.js";
import type { InboundHandler } from "../../inbound/handler.js";
import {
  parseWebhook,
  type ParsedWebhook,
  type ParseInput,
  type WebhookLimits,
} from "../../inbound/parse.js";
import { eventsOf, typeOf } from "./decode.js";

/** The consumer's stable name: its group and its dead-letter topic derive from it. */
export const ROUTER_INBOUND_CONSUMER = "router-inbound";
/** The statuses lane's consumer (raw-status-webhooks; ADR 0004, "Two raw lanes"). */
export const ROUTER_STATUSES_CONSUMER = "router-statuses";

/** Each raw lane's topic, consumer and event type. */
const LANES = {
  webhooks: {
    topic: "raw-webhooks",
    consumer: ROUTER_INBOUND_CONSUMER,
    isRaw: eventsOf("RawWebhookReceived"),
    expected: "RawWebhookReceived",
  },
  statuses: {
    topic: "raw-status-webhooks",
    consumer: ROUTER_STATUSES_CONSUMER,
    isRaw: eventsOf("RawStatusWebhookReceived"),
    expected: "RawStatusWebhookReceived",
  },
} as const;

export interface RawWebhookConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly handler: InboundHandler;
  /** Which raw topic this consumer reads (default `webhooks`: raw-webhooks). */
  readonly lane?: keyof typeof LANES;
  readonly clock: () => Date;
  /** The parser; injectable so a test can play "the parser had a bug, then it was fixed". */
  readonly parse?: (input: ParseInput) => ParsedWebhook;
  /** Entries, changes and items one webhook may hold (default: the parser's). */
  readonly limits?: WebhookLimits;
  /** A business number's phone_number_id by WABA and display number (the number directory). */
  readonly phoneNumberIdOf?: ParseInput["phoneNumberIdOf"];
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
}

/** A webhook that must not overtake an earlier one of its contacts that was handed back. */
class HandedBackError extends ParleyError {
  override readonly name = "HandedBackError";
  constructor() {
    // Waited out like an outage: it is tried again once the earlier webhook is back in line.
    super("an earlier webhook of the same contact was handed back; so is this one", {
      retry: "outage",
    });
  }
}

/** How many rejected items a dead letter's reason lists by name. */
const LISTED = 20;

/**
 * Some items of the webhook named no valid contact or could not fit their topic: the others were
 * published, and the webhook goes to the dead-letter topic naming the rejected ones (a re-drive
 * is safe: the router dedupes what it already published).
 */
export class WebhookItemsRejectedError extends ParleyError {
  override readonly name = "WebhookItemsRejectedError";
  constructor({ rejected, items }: ParsedWebhook) {
    const listed = rejected.slice(0, LISTED).map((r) => `${r.item}: ${r.reason}`);
    const more = rejected.length > LISTED ? `; and ${String(rejected.length - LISTED)} more` : "";
    super(
      `${String(rejected.length)} of ${String(items)} items rejected (the others were published): ${listed.join("; ")}${more}`,
      { retry: "never", context: { rejected: rejected.length, items } },
    );
  }
}

type Raw = ConsumedRecord<unknown>;
const idOf = (record: Raw): string =>
  `${record.topic}\u0000${String(record.partition)}\u0000${record.offset}`;

/**
 * raw-webhooks -> parsed events -> the per-contact handler. Translation only: a record that is
 * not a RawWebhookReceived, or a body that is not a webhook (or a larger one than Meta sends),
 * is dead-lettered at once with its raw-topic coordinates; a webhook some of whose items were
 * rejected is dead-lettered after its other items are published. Every other failure carries
 * its retry decision and the runner acts on it (ADR 0003): a store or broker outage is waited
 * out without bound, a lost optimistic race is tried a few times, a poison write or event is
 * dead-lettered.
 *
 * Concurrency: the raw topic is keyed by business number, but order only matters per contact.
 * The runner decodes one number's records in offset order and calls `concurrencyKeyOf` for each
 * in that order; that is where the webhook is parsed and admitted to the contact gate under its
 * contacts. Every record then runs at once (its own concurrency key), and waits in the gate only
 * behind earlier webhooks sharing a contact, so the handler sees many webhooks together and can
 * batch them, while each contact's webhooks still take effect in raw-topic order. A webhook that
 * fails and will be tried again keeps its place in the gate across the runner's retries (and a
 * redelivery of it takes that place back), so the contact's later webhooks never overtake it; it
 * leaves once done, dead-lettered, or handed back (consumer stopping, partition revoked).
 */
export function createRawWebhookConsumer({
  kafka,
  serde,
  catalog,
  handler,
  lane = "webhooks",
  clock,
  parse = parseWebhook,
  limits,
  phoneNumberIdOf,
  logger,
  tuning,
}: RawWebhookConsumerOptions): ConsumerRunner {
  const { topic, consumer, isRaw, expected } = LANES[lane];
  const gate = new ContactGate<ParsedWebhook>();
  /** Webhooks that failed and will be tried again, still holding their place in the gate. */
  const held = new Map<string, { ticket: GateTicket<ParsedWebhook>; record: Raw }>();
  const attempts = tuning?.retry?.attempts ?? defaultRetryPolicy.attempts;
  const budgetOf: NonNullable<ParseInput["budgetOf"]> = (type) =>
    eventBudgetOf(catalog.topicOf(type).maxRecordBytes);
  // Called by the runner's handlers only, once `runner` below exists.
  const owned = (record: Raw): boolean =>
    runner.assignment(record.topic).partitions.includes(record.partition);

  const release = (id: string) => {
    held.get(id)?.ticket.leave("handed-back");
    held.delete(id);
  };
  // A held webhook whose partition went elsewhere is not tried here again: let its followers go.
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    for (const [id, { record }] of held) if (!owned(record)) release(id);
    if (held.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const hold = (id: string, ticket: GateTicket<ParsedWebhook>, record: Raw) => {
    held.set(id, { ticket, record });
    sweeper ??= setInterval(sweep, 1_000).unref();
  };
  let watching = false;
  const watchStop = (signal: AbortSignal) => {
    if (watching) return;
    watching = true;
    signal.addEventListener("abort", () => {
      for (const id of [...held.keys()]) release(id);
    });
  };

  const admit = (record: Raw): void => {
    // A redelivered webhook that still holds its place (it failed, then its partition came back).
    if (held.has(idOf(record))) return;
    const event = record.value;
    if (!isRaw(event)) {
      throw new PoisonRecordError(`expected ${expected}, got ${typeOf(event)}`);
    }
    const body = Buffer.from(event.data.bodyBase64, "base64").toString("utf8");
    const parsed = parse({
      raw: event,
      body,
      now: clock(),
      budgetOf,
      ...(limits === undefined ? {} : { limits }),
      ...(phoneNumberIdOf === undefined ? {} : { phoneNumberIdOf }),
    });
    gate.admit(
      idOf(record),
      parsed.events.map((fact) => (isFact(fact) ? stateKeyOf(fact) : "")),
      parsed,
    );
  };

  const runner: ConsumerRunner = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer,
    topics: [catalog.topic(topic)],
    ...(logger ? { logger } : {}),
    tuning: {
      ...tuning,
      concurrencyKeyOf: (record) => {
        admit(record);
        return record.offset;
      },
    },
    handle: async (record, signal) => {
      watchStop(signal);
      const id = idOf(record);
      const resumed = held.get(id)?.ticket;
      held.delete(id);
      let ticket = resumed ?? gate.claim(id);
      if (ticket === undefined) {
        // A retry of a record handed back by the gate: it queues again behind what is in flight.
        admit(record);
        ticket = gate.claim(id);
      }
      if (ticket === undefined) {
        throw new Error(`${consumer}: a webhook admitted is not in the gate`);
      }
      let outcome: GateOutcome | "held" = "handed-back";
      try {
        if (resumed === undefined && (await ticket.turn) === "handed-back") {
          throw new HandedBackError();
        }
        if (signal.aborted || !owned(record)) throw new HandedBackError();
        await handler.handle(ticket.payload.events);
        outcome = "done";
        if (ticket.payload.rejected.length > 0) {
          throw new WebhookItemsRejectedError(ticket.payload);
        }
      } catch (error) {
        if (outcome !== "done" && !(error instanceof HandedBackError)) {
          const kind = retryOf(error);
          if (kind === "never" || (kind === "bounded" && record.attempt >= attempts)) {
            // Dead-lettered: the contact's later webhooks go on.
            outcome = "done";
          } else if (!signal.aborted && owned(record)) {
            // Tried again by the runner: the contact's later webhooks wait behind it.
            outcome = "held";
          }
        }
        throw error;
      } finally {
        if (outcome === "held") hold(id, ticket, record);
        else ticket.leave(outcome);
      }
    },
  });
  return runner;
}
