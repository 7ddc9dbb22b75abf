import type { AnyEvent } from "@parley/contracts";
import { errorMessage } from "@parley/errors";
import type { Logger, Metrics } from "@parley/telemetry";
import type { InboundObserver } from "./inbound/handler.js";
import type { OutboundObserver } from "./outbound/handler.js";

// The router's Prometheus series: implementations of the observers its domain declares.

/**
 * The inbound series: facts by outcome (new or Meta's duplicate), events published, state
 * conflicts, events dropped for good, the runtime's stages, and webhook-level errors Meta
 * reported (`value.errors[]`), which are also logged with their code: they say something is
 * wrong for the whole app or number (130429 rate limit, 131000 ...) and nothing else surfaces
 * them.
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
  const dropped = metrics.counter<"type">({
    name: "router_inbound_events_dropped_total",
    help: "Events the broker refused for good (dropped from the contact's outbox, their facts forgotten), by event type.",
    labelNames: ["type"],
  });
  const stages = metrics.histogram<"stage">({
    name: "router_inbound_stage_seconds",
    help: "Time per inbound batch step: wait (a webhook's contact for its turn), load, context, decide, save, publish, mark.",
    labelNames: ["stage"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const webhookErrors = metrics.counter<"code">({
    name: "router_webhook_errors_total",
    help: "Webhook-level errors Meta reported (value.errors[]), by Graph error code; Meta's retries count once.",
    labelNames: ["code"],
  });
  const statuses = metrics.counter<"status">({
    name: "router_statuses_total",
    help: "Delivery statuses published (Meta's duplicates not counted), by status: sent, delivered, read, played, failed.",
    labelNames: ["status"],
  });
  const statusErrors = metrics.counter<"code">({
    name: "router_status_errors_total",
    help: "Errors carried by delivery statuses (a failed message's reason), by Graph error code.",
    labelNames: ["code"],
  });
  const billable = metrics.counter<"category">({
    name: "router_billable_messages_total",
    help: "Delivered messages Meta prices (pricing type regular, or billable), by pricing category: what the messages cost, to be multiplied by the rate card.",
    labelNames: ["category"],
  });
  /** Meta's vocabularies are open strings: an unexpected value becomes "other", so series stay few. */
  const word = (value: string | undefined): string =>
    value !== undefined && /^[a-z_]{1,40}$/.test(value) ? value : "other";
  return {
    decided(fact, emitted) {
      facts.inc({ type: fact.type, outcome: emitted.length === 0 ? "duplicate" : "new" });
      for (const event of emitted) {
        published.inc({ type: event.type });
        if (event.type !== "StatusUpdated") continue;
        const { status, errors = [], pricing } = event.data;
        statuses.inc({ status });
        for (const error of errors) statusErrors.inc({ code: String(error.code) });
        if (
          status === "delivered" &&
          pricing !== undefined &&
          (pricing.type === "regular" || (pricing.type === undefined && pricing.billable === true))
        )
          billable.inc({ category: word(pricing.category) });
      }
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
    dropped(event, error) {
      dropped.inc({ type: event.type });
      // The event id and its delivery id find the raw webhook; the contact id stays out of logs.
      logger?.error(
        {
          type: event.type,
          eventId: event.eventId,
          correlationId: event.correlationId,
          err: errorMessage(error),
        },
        "router inbound: an event the broker refuses for good left the outbox; its fact is forgotten",
      );
    },
    stage(stage, ms) {
      stages.observe({ stage }, ms / 1000);
    },
  };
}

/** The outbound series: requests by decision (dispatched, a rejection reason, ...). */
export function createOutboundMetrics(metrics: Metrics): OutboundObserver {
  const requests = metrics.counter<"outcome">({
    name: "router_outbound_requests_total",
    help: "Send requests decided, by outcome: dispatched, expired, a rejection reason, or duplicate (nothing emitted).",
    labelNames: ["outcome"],
  });
  const conflicts = metrics.counter({
    name: "router_outbound_state_conflicts_total",
    help: "Outbound state writes that lost the optimistic version race and were decided again.",
  });
  const stages = metrics.histogram<"stage">({
    name: "router_outbound_stage_seconds",
    help: "Time by stage: queued (append -> handler, per record), wait (for the contact's turn, per record), and per batch load, context (windows, catalogs), decide, save, publish, mark.",
    labelNames: ["stage"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  return {
    stage(stage, ms) {
      stages.observe({ stage }, ms / 1000);
    },
    decided(_request, outputs) {
      const output = outputs[0];
      const outcome =
        output === undefined
          ? "duplicate"
          : output.type === "DispatchMessage"
            ? "dispatched"
            : output.type === "SendRejected"
              ? output.data.reason
              : output.type === "SendDeduplicated"
                ? "deduplicated"
                : "expired";
      requests.inc({ outcome });
    },
    conflict() {
      conflicts.inc();
    },
  };
}

/**
 * Send outcomes by type, Graph error code and business number, as the router's
 * send-outcomes consumer (router-templates) reads them: every service's outcomes, the sender's
 * and the router's own rejections, committed ones only. A record read again after a rebalance
 * counts again (rare; rates are what the dashboards and alerts use).
 */
export function createSendOutcomeMetrics(metrics: Metrics): (event: AnyEvent) => void {
  const outcomes = metrics.counter<"type" | "code" | "business_number">({
    name: "router_send_outcomes_total",
    help: "Send outcomes read from send-outcomes, by type, Graph error code (failures; empty otherwise) and business number.",
    labelNames: ["type", "code", "business_number"],
  });
  return (event) => {
    if (!event.type.startsWith("Send") || event.type === "SendRequested") return;
    const code =
      event.type === "SendFailed" && event.data.error.code !== undefined
        ? String(event.data.error.code)
        : "";
    outcomes.inc({ type: event.type, code, business_number: event.businessNumber ?? "" });
  };
}
