import type { AnyEvent, Catalog } from "@parley/contracts";
import {
  createEventConsumer,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { TemplateCatalogs } from "../../outbound/catalog.js";
import { eventsOf } from "./decode.js";

/** The consumer's stable name: its group and its dead-letter topic derive from it. */
export const ROUTER_TEMPLATES_CONSUMER = "router-templates";

/** Meta's "template does not exist in that language, or is not approved". */
export const TEMPLATE_MISSING_CODE = 132001;

/** What keeps catalogs current; other events of business-events and send-outcomes are skipped. */
const isTemplateInput = eventsOf(
  "TemplateStatusUpdated",
  "TemplateCategoryUpdated",
  "TemplateQualityUpdated",
  "SendFailed",
);

const isSendOutcome = eventsOf(
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendInDoubt",
  "SendReconciled",
  "SendDeduplicated",
);

export interface TemplateEventsConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly catalogs: TemplateCatalogs;
  /** The WABA of a business number (from the number directory). */
  readonly wabaOf: (phoneNumberId: string) => string | undefined;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
  /** Told about every send outcome read, for the router's metrics. */
  readonly onOutcome?: (event: AnyEvent) => void;
}

/**
 * Keeps template catalogs current: template status, category and quality webhooks
 * (business-events) patch and re-sync their WABA's catalog; a `SendFailed` with 132001
 * (send-outcomes) means the catalog is wrong about a template, so it is synced too. Its own
 * group, so a slow Graph never holds up send decisions. A failed sync is logged by the catalog
 * and left to the periodic refresh: it never blocks this consumer.
 */
export function createTemplateEventsConsumer({
  kafka,
  serde,
  catalog,
  catalogs,
  wabaOf,
  logger,
  tuning,
  onOutcome,
}: TemplateEventsConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: ROUTER_TEMPLATES_CONSUMER,
    topics: [catalog.topic("business-events"), catalog.topic("send-outcomes")],
    ...(logger ? { logger } : {}),
    ...(tuning ? { tuning } : {}),
    handle: async (record) => {
      const event = record.value;
      if (isSendOutcome(event)) onOutcome?.(event);
      if (!isTemplateInput(event)) return;
      switch (event.type) {
        case "TemplateStatusUpdated":
        case "TemplateCategoryUpdated":
        case "TemplateQualityUpdated":
          await catalogs.applyTemplateEvent(event);
          return;
        case "SendFailed": {
          if (event.data.error.code !== TEMPLATE_MISSING_CODE) return;
          const wabaId =
            event.businessNumber === undefined ? undefined : wabaOf(event.businessNumber);
          if (wabaId === undefined) return;
          await catalogs.refresh(wabaId).catch(() => undefined);
          return;
        }
      }
    },
  });
}
