/**
 * Errors that say whether a retry makes sense (conventions.md, 9). The consumer runner retries,
 * dead-letters or stops from `retriable` alone; anything without the flag counts as not
 * retriable, so a programming error is never retried into a hot loop.
 */
export class ParleyKafkaError extends Error {
  override readonly name: string = "ParleyKafkaError";
  readonly retriable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    message: string,
    {
      retriable,
      cause,
      context = {},
    }: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> },
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.retriable = retriable;
    this.context = context;
  }
}

/** A record that can never be processed as it is (bad bytes, unknown schema, invalid event): dead-letter it. */
export class PoisonRecordError extends ParleyKafkaError {
  override readonly name = "PoisonRecordError";
  constructor(
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retriable: false });
  }
}

/** The event does not match its topic's contract; nothing was sent. */
export class InvalidEventError extends ParleyKafkaError {
  override readonly name = "InvalidEventError";
  constructor(
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retriable: false });
  }
}

/** The subject has no schema matching ours in the registry: run provisioning (`parley-kafka provision`). */
export class SchemaNotRegisteredError extends ParleyKafkaError {
  override readonly name = "SchemaNotRegisteredError";
  constructor(subject: string, cause?: unknown) {
    super(
      `schema for subject ${subject} is not registered; run \`parley-kafka provision\` (make dev does) and retry`,
      {
        retriable: false,
        cause,
        context: { subject },
      },
    );
  }
}

/** Whether a failure may succeed on a later attempt: our errors and kafkajs's carry the flag. */
export function isRetriable(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { retriable?: unknown }).retriable === true
  );
}

export function errorClass(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
