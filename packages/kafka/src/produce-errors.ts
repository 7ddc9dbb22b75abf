import type { RetryKind } from "@parley/errors";
import { ParleyKafkaError } from "./errors.js";

/**
 * A record larger than its topic's `max.message.bytes` (TopicSpec.maxRecordBytes): refused
 * before it is sent, so it never enters a produce request shared with other records. Sending it
 * again cannot help: it is dead-lettered (or made smaller) by whoever produced it.
 */
export class RecordTooLargeError extends ParleyKafkaError {
  override readonly name = "RecordTooLargeError";
  readonly topic: string;
  readonly bytes: number;
  readonly limit: number;
  constructor({
    topic,
    bytes,
    limit,
    eventId,
  }: {
    topic: string;
    bytes: number;
    limit: number;
    eventId?: string;
  }) {
    super(
      `record of ${String(bytes)} bytes (key, value, headers and record-batch overhead) is over the ${String(limit)}-byte limit of ${topic}; it was not sent`,
      {
        retry: "never",
        context: { topic, bytes, limit, ...(eventId === undefined ? {} : { eventId }) },
      },
    );
    this.topic = topic;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** A produce that failed (after the producer's recovery), with the retry decision of its cause. */
export class ProduceError extends ParleyKafkaError {
  override readonly name = "ProduceError";
  /** The broker's error type (e.g. MESSAGE_TOO_LARGE) or the client's error name. */
  readonly kafkaError: string;
  constructor(
    message: string,
    options: { retry: RetryKind; cause: unknown; context: Record<string, unknown> },
    kafkaError: string,
  ) {
    super(message, options);
    this.kafkaError = kafkaError;
  }
}

/*
 * The broker's answers, as kafkajs names them (src/protocol/error.js). An outage is waited out:
 * the broker, a leader, a coordinator or enough replicas are missing for now, or this producer's
 * own state went wrong (which a fresh producer clears). `never` is about the record or the
 * request themselves, or a permission: the same produce fails the same way.
 */
const OUTAGE_TYPES: ReadonlySet<string> = new Set([
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_FOR_PARTITION",
  "REQUEST_TIMED_OUT",
  "BROKER_NOT_AVAILABLE",
  "REPLICA_NOT_AVAILABLE",
  "NETWORK_EXCEPTION",
  "GROUP_LOAD_IN_PROGRESS",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR_FOR_GROUP",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "NOT_CONTROLLER",
  "KAFKA_STORAGE_ERROR",
  "FENCED_LEADER_EPOCH",
  "UNKNOWN_LEADER_EPOCH",
  "PREFERRED_LEADER_NOT_AVAILABLE",
  "ELIGIBLE_LEADERS_NOT_AVAILABLE",
  "LISTENER_NOT_FOUND",
  "CONCURRENT_TRANSACTIONS",
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "DUPLICATE_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
]);

const NEVER_TYPES: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
  "INVALID_REQUIRED_ACKS",
  "INVALID_TIMESTAMP",
  "UNSUPPORTED_VERSION",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "UNSUPPORTED_COMPRESSION_TYPE",
  "POLICY_VIOLATION",
  "INVALID_REQUEST",
  "INVALID_TRANSACTION_TIMEOUT",
]);

/** Client-side failures on the way to the broker: it is unreachable or slow for now. */
const OUTAGE_NAMES: ReadonlySet<string> = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSMetadataNotLoaded",
  "KafkaJSTopicMetadataNotLoaded",
  "KafkaJSStaleTopicMetadataAssignment",
  "KafkaJSGroupCoordinatorNotFound",
  "KafkaJSLockTimeout",
  "KafkaJSTimeout",
]);

const NEVER_NAMES: ReadonlySet<string> = new Set(["KafkaJSSASLAuthenticationError"]);

interface KafkaLike {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly message?: unknown;
}

/** The innermost kafkajs error: "number of retries exceeded" wraps the last attempt's. */
function rootOf(error: unknown): KafkaLike {
  let current = error as KafkaLike;
  for (let depth = 0; depth < 5; depth++) {
    if (current.name !== "KafkaJSNumberOfRetriesExceeded") break;
    const cause = current.cause;
    if (typeof cause !== "object" || cause === null) break;
    current = cause;
  }
  return current;
}

/** What a failed produce's error means (the broker's error type first, then the client's error name). */
export function produceRetryOf(error: unknown): { retry: RetryKind; kafkaError: string } {
  if (error instanceof ParleyKafkaError) return { retry: error.retry, kafkaError: error.name };
  if (typeof error !== "object" || error === null) return { retry: "never", kafkaError: "unknown" };
  const root = rootOf(error);
  const type = typeof root.type === "string" ? root.type : undefined;
  const name = typeof root.name === "string" ? root.name : "Error";
  if (type !== undefined && OUTAGE_TYPES.has(type)) return { retry: "outage", kafkaError: type };
  if (type !== undefined && NEVER_TYPES.has(type)) return { retry: "never", kafkaError: type };
  if (OUTAGE_NAMES.has(name)) return { retry: "outage", kafkaError: name };
  if (NEVER_NAMES.has(name)) return { retry: "never", kafkaError: name };
  // Anything else kafkajs calls retriable may pass on a later try; the rest will not.
  return { retry: root.retriable === true ? "bounded" : "never", kafkaError: type ?? name };
}

/** A failed produce as a ParleyKafkaError with its retry decision (ParleyKafkaErrors pass through). */
export function toProduceError(
  error: unknown,
  context: Readonly<Record<string, unknown>>,
): ParleyKafkaError {
  if (error instanceof ParleyKafkaError) return error;
  const { retry, kafkaError } = produceRetryOf(error);
  const root = rootOf(error);
  const detail = typeof root.message === "string" ? root.message : String(error);
  return new ProduceError(
    `produce failed (${kafkaError}): ${detail}`,
    { retry, cause: error, context: { ...context, kafkaError } },
    kafkaError,
  );
}
