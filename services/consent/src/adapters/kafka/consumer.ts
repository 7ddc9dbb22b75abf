import type { AnyEvent, Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { ConsentCommand } from "../../ledger/decide.js";
import type { ConsentLedger } from "../../ledger/ledger.js";

/** The consumer's stable name: its group is parley.consent, its dead letters parley.dlq.consent. */
export const CONSENT_CONSUMER = "consent";

/** The command an input event asks for; undefined for events of these topics it does not take. */
export function commandOf(
  event: AnyEvent,
): Extract<ConsentCommand, { readonly event: unknown }> | undefined {
  switch (event.type) {
    case "ConsentKeywordReceived":
      return { type: "KeywordReceived", event };
    case "UserPreferencesUpdated":
      return { type: "PreferencesUpdated", event };
    case "SendFailed":
      return { type: "MarketingRefused", event };
    default:
      return undefined;
  }
}

export interface ConsentConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly ledger: Pick<ConsentLedger, "handle" | "recordSend">;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
  /** Milliseconds from a record's append to its entries being durable (first attempts). */
  readonly observeDecided?: (ms: number) => void;
}

/**
 * consent (keyword replies, user_preferences) and send-outcomes (131050 failures) -> the ledger.
 * Translation only: its own outputs and other events of the topics are skipped; a failure keeps
 * the retry decision it carries (ADR 0003): MongoDB or the broker unavailable is an outage,
 * waited out on the key; a refused input (an opt-in for an erased contact) is dead-lettered with
 * its reason. Every input is idempotent by its id (a redelivery decides nothing).
 */
export function createConsentConsumer({
  kafka,
  serde,
  catalog,
  ledger,
  logger,
  tuning,
  observeDecided,
}: ConsentConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: CONSENT_CONSUMER,
    topics: [catalog.topic("consent"), catalog.topic("send-outcomes")],
    ...(logger ? { logger } : {}),
    ...(tuning ? { tuning } : {}),
    handle: async (record) => {
      const event = record.value;
      if (
        (event.type === "SendAccepted" || event.type === "SendRejected") &&
        event.data.consentEventId !== undefined
      ) {
        await ledger.recordSend({
          requestId: event.data.requestId,
          contactId: event.data.contactId,
          outcome: event.type === "SendAccepted" ? "accepted" : "rejected",
          consentEventId: event.data.consentEventId,
          at: event.occurredAt,
          ...(event.type === "SendAccepted"
            ? { wamid: event.data.wamid }
            : { reason: event.data.reason }),
        });
        return;
      }
      const command = commandOf(event);
      if (command === undefined) return;
      await ledger.handle([{ key: command.event.data.contactId, command }]);
      if (observeDecided !== undefined && record.attempt === 1) {
        observeDecided(Date.now() - Number(record.timestamp));
      }
    },
  });
}
