/**
 * Every Kafka header name Parley writes or reads, declared here only. W3C trace context keeps
 * its standard names so any OpenTelemetry propagator understands it; Parley's own headers share
 * the `parley-` prefix.
 */
export const headerNames = {
  traceparent: "traceparent",
  tracestate: "tracestate",
  correlationId: "parley-correlation-id",
  causationId: "parley-causation-id",
  eventType: "parley-event-type",
  eventId: "parley-event-id",
  schemaVersion: "parley-schema-version",
  /** Set on dead letters: where the record came from and why it failed. */
  dlq: {
    originalTopic: "parley-dlq-original-topic",
    originalPartition: "parley-dlq-original-partition",
    originalOffset: "parley-dlq-original-offset",
    originalTimestamp: "parley-dlq-original-timestamp",
    errorClass: "parley-dlq-error-class",
    errorMessage: "parley-dlq-error-message",
    attempts: "parley-dlq-attempts",
    consumerGroup: "parley-dlq-consumer-group",
    failedAt: "parley-dlq-failed-at",
  },
  /** Set on records parked on a retry topic. */
  retry: {
    originalTopic: "parley-retry-original-topic",
    originalPartition: "parley-retry-original-partition",
    originalOffset: "parley-retry-original-offset",
    attempt: "parley-retry-attempt",
    dueAt: "parley-retry-due-at",
  },
  /** How many times a dead letter has been re-driven to its original topic. */
  redriveCount: "parley-redrive-count",
} as const;

export type HeaderNames = typeof headerNames;
