import type { Metrics } from "@parley/telemetry";
import type { OutboundObserver } from "./handler.js";

/** The router's outbound series: requests by decision (dispatched, a rejection reason, ...). */
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
    help: "Time per outbound record by stage: queued (append -> handler), wait (for the contact's turn), load, context (windows, catalog), decide, save, publish.",
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
