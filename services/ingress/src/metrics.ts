import type { AuthFailure } from "@parley/runtime";
import type { Metrics } from "@parley/telemetry";

/** Why a webhook request ended as it did; the `outcome` label of webhook_requests_total. */
export type WebhookOutcome =
  | "accepted"
  | "challenge_accepted"
  | "challenge_rejected"
  | "signature_missing"
  | "signature_invalid"
  | "append_failed"
  | "append_timeout"
  | "rate_limited"
  | "address_forbidden"
  | "body_too_large"
  | "bad_request"
  | "shutting_down"
  | "not_found";

/** The slice of each series the webhook adapter uses. */
export interface WebhookMetrics {
  readonly requests: { inc(labels: { method: string; outcome: WebhookOutcome }): void };
  readonly signatureFailures: { inc(labels: { reason: "missing" | "mismatch" }): void };
  readonly bodySize: { observe(bytes: number): void };
  readonly appendSeconds: {
    startTimer(): (labels: { result: "ok" | "failed" | "timeout" }) => number;
  };
  readonly appendsInFlight: { inc(): void; dec(): void };
  /** From the request's arrival to the last byte of the answer: what Meta waits for. */
  readonly responseSeconds: { observe(labels: { method: string }, seconds: number): void };
}

/** Ingress's own series, on the service's registry (exposed by the ops server's /metrics). */
export function createWebhookMetrics(metrics: Metrics): WebhookMetrics {
  return {
    requests: metrics.counter<"method" | "outcome">({
      name: "webhook_requests_total",
      help: "Webhook HTTP requests by method and outcome.",
      labelNames: ["method", "outcome"],
    }),
    signatureFailures: metrics.counter<"reason">({
      name: "webhook_signature_failures_total",
      help: "POSTs refused because X-Hub-Signature-256 was missing or did not match any app secret.",
      labelNames: ["reason"],
    }),
    bodySize: metrics.histogram({
      name: "webhook_body_size_bytes",
      help: "Sizes of the webhook bodies read (before the signature check).",
      buckets: [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 3_145_728],
    }),
    appendSeconds: metrics.histogram<"result">({
      name: "webhook_append_seconds",
      help: "From the start of the append to the raw topic until all in-sync replicas acknowledged it (or it failed).",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    appendsInFlight: metrics.gauge({
      name: "webhook_appends_in_flight",
      help: "Webhook appends sent to Kafka and not yet acknowledged.",
    }),
    responseSeconds: metrics.histogram<"method">({
      name: "webhook_response_seconds",
      help: "Webhook requests from arrival until the answer was written (the acknowledgement Meta waits for), by method (GET, POST, other).",
      labelNames: ["method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
}

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

export type AuthFailureReason = AuthFailure;

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
