import type { Metrics } from "@parley/telemetry";
import type { IngestFailure, IngestObserver } from "./ingest/ingest.js";
import type { MediaObjectsObserver } from "./media/objects.js";

// The media service's Prometheus series: implementations of the observers its parts declare
// (the ingest's and the media objects'). Labels are bounded: outcomes, reasons, origins, never a
// media id, a contact or a number.

export function createMediaMetrics(metrics: Metrics) {
  const fetchSeconds = metrics.histogram<"outcome">({
    name: "media_fetch_seconds",
    help: "From the first Graph look-up of an inbound media id to its outcome (stored or failed), retries and URL refreshes included.",
    labelNames: ["outcome"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
  });
  const failures = metrics.counter<"reason">({
    name: "media_fetch_failures_total",
    help: "Inbound media fetches that ended without a stored object, by reason (MediaFailed's reasons; gave_up: 5xx or network failures past the attempts; storage_unavailable; error).",
    labelNames: ["reason"],
  });
  const attempts = metrics.counter<"step" | "outcome">({
    name: "media_fetch_attempts_total",
    help: "Graph look-ups and downloads by outcome (ok, url_expired: asked again, transient: retried with back-off).",
    labelNames: ["step", "outcome"],
  });
  const storedBytes = metrics.counter<"origin">({
    name: "media_stored_bytes_total",
    help: "Plaintext bytes sealed and stored, by origin (inbound, upload).",
    labelNames: ["origin"],
  });
  const storedObjects = metrics.counter<"origin">({
    name: "media_stored_objects_total",
    help: "Objects sealed and stored, by origin (inbound, upload).",
    labelNames: ["origin"],
  });
  const deleted = metrics.counter<"reason">({
    name: "media_deleted_objects_total",
    help: "Objects deleted (data key dropped, then bytes removed), by reason (retention, erasure, api).",
    labelNames: ["reason"],
  });
  const inFlight = metrics.gauge({
    name: "media_downloads_in_flight",
    help: "Inbound media downloads under way (from the first look-up to the outcome).",
  });

  const ingest: IngestObserver = {
    attempt: (step, outcome) => {
      attempts.inc({ step, outcome });
    },
    inFlight: (delta) => {
      inFlight.inc(delta);
    },
    stored: (bytes, ms) => {
      fetchSeconds.observe({ outcome: "stored" }, ms / 1_000);
      storedBytes.inc({ origin: "inbound" }, bytes);
      storedObjects.inc({ origin: "inbound" });
    },
    failed: (reason: IngestFailure, ms) => {
      fetchSeconds.observe({ outcome: "failed" }, ms / 1_000);
      failures.inc({ reason });
    },
  };
  const objects: MediaObjectsObserver = {
    uploaded: (bytes) => {
      storedBytes.inc({ origin: "upload" }, bytes);
      storedObjects.inc({ origin: "upload" });
    },
    deleted: (reason) => {
      deleted.inc({ reason });
    },
  };
  return { ingest, objects };
}
