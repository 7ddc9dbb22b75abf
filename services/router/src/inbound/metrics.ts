import type { Metrics } from "@parley/telemetry";
import type { InboundObserver } from "./handler.js";

/** The router's inbound series: facts by outcome (new or Meta's duplicate), events published. */
export function createInboundMetrics(metrics: Metrics): InboundObserver {
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
  return {
    decided(fact, emitted) {
      facts.inc({ type: fact.type, outcome: emitted.length === 0 ? "duplicate" : "new" });
      for (const event of emitted) published.inc({ type: event.type });
    },
    conflict() {
      conflicts.inc();
    },
  };
}
