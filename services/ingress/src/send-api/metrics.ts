import type { Metrics } from "@parley/telemetry";

/** How a send API request ended; the `outcome` label of send_api_requests_total. */
export type SendApiOutcome =
  | "accepted"
  | "replayed"
  | "found"
  | "not_found"
  | "invalid"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "rate_limited"
  | "too_large"
  | "unsupported_media_type"
  | "unavailable"
  | "shutting_down"
  | "no_route";

export type AuthFailureReason = "missing" | "malformed" | "unknown_key" | "scope";

/** The slice of each series the send API uses. */
export interface SendApiMetrics {
  readonly requests: { inc(labels: { route: string; outcome: SendApiOutcome }): void };
  readonly authFailures: { inc(labels: { reason: AuthFailureReason }): void };
  readonly publishSeconds: {
    startTimer(): (labels: { result: "ok" | "failed" }) => number;
  };
}

/** The send API's series on ingress's registry (exposed by the ops server's /metrics). */
export function createSendApiMetrics(metrics: Metrics): SendApiMetrics {
  return {
    requests: metrics.counter<"route" | "outcome">({
      name: "send_api_requests_total",
      help: "HTTP send API requests by route and outcome.",
      labelNames: ["route", "outcome"],
    }),
    authFailures: metrics.counter<"reason">({
      name: "send_api_auth_failures_total",
      help: "Send API requests refused by authentication (missing, malformed or unknown key) or for a missing scope.",
      labelNames: ["reason"],
    }),
    publishSeconds: metrics.histogram<"result">({
      name: "send_api_publish_seconds",
      help: "From the start of a SendRequested publish until all in-sync replicas acknowledged it (or it failed).",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
}
