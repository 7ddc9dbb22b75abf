import type { Metrics } from "@parley/telemetry";
import type { SenderObservers } from "./sending/sender.js";

/** The sender's series: outcomes, Graph latency, limiter waits, in-flight, paused numbers and parked dispatches. */
export function createSenderMetrics(metrics: Metrics): SenderObservers {
  const outcomes = metrics.counter<"type" | "business_number">({
    name: "sender_outcomes_total",
    help: "Outcome events published, by type and business number.",
    labelNames: ["type", "business_number"],
  });
  const graph = metrics.histogram<"business_number" | "result">({
    name: "sender_graph_call_duration_seconds",
    help: "Graph send calls, by business number and result.",
    labelNames: ["business_number", "result"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const waits = metrics.histogram<"kind">({
    name: "sender_limiter_wait_seconds",
    help: "Time a send waited before its call: pair pacing, number back-off, rate slot.",
    labelNames: ["kind"],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
  });
  const stages = metrics.histogram<"stage">({
    name: "sender_stage_seconds",
    help: "Time each stage of a send took: lookup, pacing, gate, claim, slot (rate wait), call, settle, publish.",
    labelNames: ["stage"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const inFlight = metrics.gauge({ name: "sender_in_flight", help: "Dispatches being handled." });
  const paused = metrics.gauge<"business_number">({
    name: "sender_number_paused",
    help: "1 while a business number is paused because Graph refused its token (0/190): alert on it.",
    labelNames: ["business_number"],
  });
  const parked = metrics.gauge<"business_number">({
    name: "sender_parked_dispatches",
    help: "Dispatches of a paused number, or of a backlog over SENDER_PARK_ABOVE on a shared partition, kept in sender_parked and sent from there in order.",
    labelNames: ["business_number"],
  });
  const held = metrics.gauge<"business_number">({
    name: "sender_number_held",
    help: "Graph's code while it holds a business number (130429, 4, 80007, 131057: its sends wait, one probe at a time), 0 otherwise.",
    labelNames: ["business_number"],
  });
  const cap = metrics.gauge<"business_number">({
    name: "sender_number_mps",
    help: "The cap the sender applies to a business number: Meta's throughput level under the configured ceiling.",
    labelNames: ["business_number"],
  });
  const inDoubtOldest = metrics.gauge({
    name: "sender_in_doubt_oldest_age_seconds",
    help: "Age of the oldest send in doubt (no status webhook yet, never resent), by its inDoubtSince; 0 when none. Set by each in-doubt sweep (SENDER_IN_DOUBT_SWEEP_MS).",
  });
  // Named graph_* (not sender_*): they describe Meta's view of the secret, for the alert rules.
  const tokenExpiry = metrics.gauge<"business_number">({
    name: "graph_token_expiry_seconds",
    help: "Seconds until the business number's Graph access token expires, from debug_token (+Inf: never; 0: expired or invalid). Set at start, every SENDER_TOKEN_CHECK_MS and after its file changed.",
    labelNames: ["business_number"],
  });
  const tokenValid = metrics.gauge<"business_number">({
    name: "graph_token_valid",
    help: "1 while debug_token says the business number's Graph access token is valid and may send, 0 otherwise.",
    labelNames: ["business_number"],
  });
  return {
    tokenChecked(number, expiresInSeconds, valid) {
      tokenExpiry.set({ business_number: number }, expiresInSeconds);
      tokenValid.set({ business_number: number }, valid ? 1 : 0);
    },
    inDoubtAge(seconds) {
      inDoubtOldest.set(seconds);
    },
    holdChanged(number, code) {
      held.set({ business_number: number }, code ?? 0);
    },
    throughput(number, mps) {
      cap.set({ business_number: number }, mps);
    },
    parkedChanged(number, count) {
      parked.set({ business_number: number }, count);
    },
    outcome(type, number) {
      outcomes.inc({ type, business_number: number });
    },
    outcomeOnly(type) {
      outcomes.inc({ type, business_number: "" });
    },
    graphCall(number, seconds, result) {
      graph.observe({ business_number: number, result }, seconds);
    },
    stage(name, ms) {
      stages.observe({ stage: name }, ms / 1_000);
    },
    inFlight(delta) {
      inFlight.inc(delta);
    },
    waited(kind, ms) {
      if (ms > 0) waits.observe({ kind }, ms / 1_000);
    },
    pausedChanged(number, isPaused) {
      paused.set({ business_number: number }, isPaused ? 1 : 0);
    },
  };
}
