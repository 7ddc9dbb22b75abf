import type { Logger, Metrics } from "@parley/telemetry";
import type { InboundObserver } from "./handler.js";

/**
 * The router's inbound series: facts by outcome (new or Meta's duplicate), events published,
 * state conflicts, and webhook-level errors Meta reported (`value.errors[]`), which are also
 * logged with their code: they say something is wrong for the whole app or number (130429 rate
 * limit, 131000 ...) and nothing else surfaces them.
 */
export function createInboundMetrics(metrics: Metrics, logger?: Logger): InboundObserver {
  const facts = metrics.counter<"type" | "outcome">({
    name: "router_inbound_facts_total",
    help: "Facts parsed from webhooks, by event type and outcome (new, or duplicate dropped).",
    labelNames: ["type", "outcome"],
  });
  const published = metrics.counter<"type">({
    name: "router_inbound_events_total",
    help: "Events the inbound side decided to publish, by event type.",
    labelNames: ["type"],
  });
  const conflicts = metrics.counter({
    name: "router_inbound_state_conflicts_total",
    help: "Contact state writes that lost the optimistic version race and were decided again.",
  });
  const webhookErrors = metrics.counter<"code">({
    name: "router_webhook_errors_total",
    help: "Webhook-level errors Meta reported (value.errors[]), by Graph error code; Meta's retries count once.",
    labelNames: ["code"],
  });
  return {
    decided(fact, emitted) {
      facts.inc({ type: fact.type, outcome: emitted.length === 0 ? "duplicate" : "new" });
      for (const event of emitted) published.inc({ type: event.type });
      if (fact.type !== "WebhookErrorsReceived" || emitted.length === 0) return;
      for (const error of fact.data.errors) {
        webhookErrors.inc({ code: String(error.code) });
        logger?.warn(
          {
            code: error.code,
            title: error.title,
            details: error.details,
            wabaId: fact.data.wabaId,
            phoneNumberId: fact.data.phoneNumberId,
            deliveryId: fact.data.deliveryId,
          },
          "Meta reported a webhook-level error",
        );
      }
    },
    conflict() {
      conflicts.inc();
    },
  };
}
