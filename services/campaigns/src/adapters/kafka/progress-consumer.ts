import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import { outcomeFactOf, statusFactOf } from "../../domain/progress.js";
import type { MongoDeliveries } from "../store/progress-store.js";

/** The consumer's stable name: group parley.campaigns-progress, dead letters parley.dlq.campaigns-progress. */
export const PROGRESS_CONSUMER = "campaigns-progress";

/**
 * send-outcomes and statuses -> campaign_deliveries (progress and the reconciled cost of each
 * campaign; issue 27). Translation only: the domain says what an event means for a campaign send
 * (or throws ProgressEventError, a dead letter with its reason), the store joins it in. A failure
 * then asks the campaign's failure-rate rule (`onFailure`). Every send Meta took, campaign or
 * not, is handed to `onReached` (the messaging limit counts ordinary sends too).
 */
export function createProgressConsumer({
  kafka,
  serde,
  catalog,
  deliveries,
  onFailure,
  onReached,
  logger,
}: {
  kafka: KafkaClient;
  serde: Serde;
  catalog: Catalog;
  deliveries: Pick<MongoDeliveries, "applyOutcome" | "applyStatus">;
  onFailure?: (campaignId: string) => Promise<void>;
  /** Any send Meta took (every requester's): the messaging limit's reached users. */
  onReached?: (contactId: string, at: Date) => Promise<void>;
  logger?: KafkaLogger;
}): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: PROGRESS_CONSUMER,
    topics: [catalog.topic("send-outcomes"), catalog.topic("statuses")],
    ...(logger ? { logger } : {}),
    tuning: { fromBeginning: true },
    handle: async (record) => {
      const event = record.value;
      let campaignId: string | undefined;
      let failed = false;
      if (event.type === "StatusUpdated") {
        const fact = statusFactOf(event);
        if (fact === undefined) return;
        campaignId = await deliveries.applyStatus(fact);
        failed = fact.failure !== undefined;
      } else {
        if (
          event.type === "SendAccepted" ||
          (event.type === "SendReconciled" && event.data.result === "sent")
        )
          await onReached?.(event.data.contactId, new Date(event.occurredAt));
        const outcome = outcomeFactOf(event);
        if (outcome === undefined) return;
        await deliveries.applyOutcome(outcome.campaignId, outcome.fact);
        campaignId = outcome.campaignId;
        failed = outcome.fact.failure !== undefined;
      }
      if (failed && campaignId !== undefined) await onFailure?.(campaignId);
    },
  });
}
