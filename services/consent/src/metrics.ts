import type { CommandHandlerObserver } from "@parley/decider";
import type { Metrics } from "@parley/telemetry";
import type { ConsentCommand } from "./ledger/decide.js";
import type { LedgerEntry } from "./ledger/evolve.js";

// The consent service's Prometheus series: implementations of the observers its parts declare.

export function createConsentMetrics(metrics: Metrics) {
  const inputs = metrics.counter<"input" | "outcome">({
    name: "consent_inputs_total",
    help: "Inputs the ledger decided, by input type and outcome (recorded, or unchanged: a repeat or not about consent).",
    labelNames: ["input", "outcome"],
  });
  const entries = metrics.counter<"type" | "reason">({
    name: "consent_entries_total",
    help: "Ledger entries written, by type and reason (requested, superseded).",
    labelNames: ["type", "reason"],
  });
  const stages = metrics.histogram<"stage">({
    name: "consent_stage_seconds",
    help: "Time per ledger batch step (wait, load, context, decide, save, publish, mark).",
    labelNames: ["stage"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const dropped = metrics.counter({
    name: "consent_entries_dropped_total",
    help: "Ledger entries the broker refused for good (dropped from the outbox; their input is dead-lettered).",
  });
  const conflicts = metrics.counter({
    name: "consent_conflicts_total",
    help: "Version races lost to another writer (decided again).",
  });
  const decided = metrics.histogram({
    name: "consent_input_to_entry_seconds",
    help: "From an input record's append to its ledger entries being published (first attempts).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const api = metrics.counter<"route" | "status">({
    name: "consent_api_requests_total",
    help: "Consent API requests by route and status code.",
    labelNames: ["route", "status"],
  });
  const observer: CommandHandlerObserver<ConsentCommand, LedgerEntry, LedgerEntry> = {
    decided: (_key, command, events) => {
      inputs.inc({ input: command.type, outcome: events.length > 0 ? "recorded" : "unchanged" });
      for (const e of events) {
        entries.inc({
          type: e.type,
          reason: e.type === "ContactErased" ? "erasure" : (e.data.reason ?? "requested"),
        });
      }
    },
    conflict: () => {
      conflicts.inc();
    },
    dropped: () => {
      dropped.inc();
    },
    stage: (stage, ms) => {
      stages.observe({ stage }, ms / 1_000);
    },
  };
  return {
    observer,
    decidedAfter: (ms: number) => {
      decided.observe(ms / 1_000);
    },
    answered: (route: string, status: number) => {
      api.inc({ route, status: String(status) });
    },
  };
}
