import { ParleyError } from "@parley/errors";

export { errorClass, errorMessage, isOutage, isRetriable, retryOf } from "@parley/errors";

/**
 * An error of the Kafka I/O layer, with the retry decision every Parley error carries
 * (conventions.md, 9): the consumer runner retries, waits out or dead-letters from it alone, and
 * anything without one counts as `never`, so a programming error is never retried into a loop.
 */
export class ParleyKafkaError extends ParleyError {
  override readonly name: string = "ParleyKafkaError";
}

/** A record that can never be processed as it is (bad bytes, unknown schema, invalid event): dead-letter it. */
export class PoisonRecordError extends ParleyKafkaError {
  override readonly name = "PoisonRecordError";
  constructor(
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retry: "never" });
  }
}

/** The event does not match its topic's contract; nothing was sent. */
export class InvalidEventError extends ParleyKafkaError {
  override readonly name = "InvalidEventError";
  constructor(
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retry: "never" });
  }
}

/** The subject has no schema matching ours in the registry: run provisioning (`parley-kafka provision`). */
export class SchemaNotRegisteredError extends ParleyKafkaError {
  override readonly name = "SchemaNotRegisteredError";
  constructor(subject: string, cause?: unknown) {
    super(
      `schema for subject ${subject} is not registered; run \`parley-kafka provision\` (make dev does) and retry`,
      {
        retry: "never",
        cause,
        context: { subject },
      },
    );
  }
}
