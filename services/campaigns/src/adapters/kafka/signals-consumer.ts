import type { Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { Campaigns } from "../../control/campaigns.js";
import { campaignOfKey } from "../../domain/plan.js";

/** The consumer's stable name: group parley.campaigns-signals, dead letters parley.dlq.campaigns-signals. */
export const SIGNALS_CONSUMER = "campaigns-signals";

/**
 * business-events (template status, number quality) and send-outcomes (132015/132016, a refused
 * token) -> auto-pause of the running campaigns they concern (ADR 0015, "Control"). Translation
 * only; a pause repeated by a redelivery decides nothing.
 */
export function createSignalsConsumer({
  kafka,
  serde,
  catalog,
  campaigns,
  logger,
}: {
  kafka: KafkaClient;
  serde: Serde;
  catalog: Catalog;
  campaigns: Pick<Campaigns, "signal">;
  logger?: KafkaLogger;
}): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: SIGNALS_CONSUMER,
    topics: [catalog.topic("business-events"), catalog.topic("send-outcomes")],
    ...(logger ? { logger } : {}),
    handle: async (record) => {
      const event = record.value;
      switch (event.type) {
        case "TemplateStatusUpdated":
          await campaigns.signal({
            kind: "template_status",
            template: event.data.templateName,
            status: event.data.event,
          });
          return;
        case "PhoneNumberQualityUpdated":
          if (event.data.phoneNumberId !== undefined) {
            await campaigns.signal({
              kind: "number_quality",
              phoneNumberId: event.data.phoneNumberId,
              rating: event.data.event,
            });
          }
          return;
        case "SendFailed":
          if (event.data.error.code !== undefined) {
            await campaigns.signal({
              kind: "send_failed",
              code: event.data.error.code,
              template: event.data.template?.name,
              campaignId: campaignOfKey(event.data.idempotencyKey),
            });
          }
          return;
        default:
          return;
      }
    },
  });
}
