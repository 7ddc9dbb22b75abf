import type { Metrics } from "@parley/telemetry";
import type { ProjectorObserver } from "./projector/projector.js";

// The projection's Prometheus series: implementations of the observers its parts declare.

/** Events applied per read model, handler stages, outputs dropped; records consumed. */
export function createProjectionMetrics(metrics: Metrics) {
  const applied = metrics.counter<"model" | "outcome">({
    name: "projection_commands_total",
    help: "Commands each read model decided, by model and outcome (changed, or unchanged: a repeat or an older fact).",
    labelNames: ["model", "outcome"],
  });
  const stages = metrics.histogram<"model" | "stage">({
    name: "projection_stage_seconds",
    help: "Time per read-model batch step (wait, load, context, decide, save, publish, mark), by model.",
    labelNames: ["model", "stage"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const dropped = metrics.counter<"model">({
    name: "projection_outputs_dropped_total",
    help: "Outputs a read model handed on that were refused for good (their input is dead-lettered).",
    labelNames: ["model"],
  });
  const records = metrics.counter<"outcome">({
    name: "projection_records_total",
    help: "Records consumed: applied to the read models, or skipped past an as-of rebuild's cut.",
    labelNames: ["outcome"],
  });
  const rollups = metrics.counter({
    name: "projection_buckets_recomputed_total",
    help: "Analytics buckets recomputed from their facts.",
  });
  const generation = metrics.gauge({
    name: "projection_active_generation",
    help: "The generation of read models the service keeps current and serves.",
  });
  const api = metrics.counter<"route" | "outcome">({
    name: "projection_api_requests_total",
    help: "Query API requests by route and outcome (ok, not_found, invalid, unauthorized, forbidden, rate_limited, unavailable, error).",
    labelNames: ["route", "outcome"],
  });
  const apiSeconds = metrics.histogram<"route">({
    name: "projection_api_seconds",
    help: "Query API answer time by route.",
    labelNames: ["route"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const observer: ProjectorObserver = {
    applied: (model, changed) => {
      applied.inc({ model, outcome: changed ? "changed" : "unchanged" });
    },
    stage: (model, stage, ms) => {
      stages.observe({ model, stage }, ms / 1_000);
    },
    dropped: (model) => {
      dropped.inc({ model });
    },
  };
  return {
    observer,
    record: (outcome: "applied" | "skipped") => {
      records.inc({ outcome });
    },
    recomputed: (n: number) => {
      rollups.inc(n);
    },
    generation: (n: number) => {
      generation.set(n);
    },
    api: {
      answered: (route: string, outcome: string, seconds: number) => {
        api.inc({ route, outcome });
        apiSeconds.observe({ route }, seconds);
      },
    },
  };
}

export type ProjectionMetrics = ReturnType<typeof createProjectionMetrics>;
