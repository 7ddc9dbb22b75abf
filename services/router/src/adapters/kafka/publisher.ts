import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import { ParleyError, type RetryKind } from "@parley/errors";
import type { EncodedEvent, EventProducer } from "@parley/kafka";
import type { Publish } from "@parley/decider";

/**
 * What a record adds to its key and value on the wire: the Kafka headers the producer writes
 * (event id, type, correlation, causation, W3C trace context) and the record's own framing.
 */
const RECORD_EXTRA_BYTES = 1_024;
/** A record batch's header. */
const BATCH_HEADER_BYTES = 61;

/** The failure of a publish, with the retry decision the runner acts on (see publishRetryOf). */
export class PublishError extends ParleyError {
  override readonly name = "PublishError";
  constructor(message: string, retry: RetryKind, cause?: unknown) {
    super(message, { retry, cause });
  }
}

/** A record larger than its topic takes: never sent, since the broker would refuse it. */
export class RecordTooLargeForTopicError extends ParleyError {
  override readonly name = "RecordTooLargeForTopicError";
  constructor(event: AnyEvent, bytes: number, topic: TopicSpec) {
    super(
      `${event.type} ${event.eventId} is ${String(bytes)} bytes; ${topic.name} takes at most ${String(topic.maxRecordBytes)} per record`,
      { retry: "never", context: { eventId: event.eventId, bytes, topic: topic.name } },
    );
  }
}

/** The errors, by name, that say this record can never be produced as it is. */
const NEVER_BY_NAME = new Set([
  "RecordTooLargeError",
  "RecordTooLargeForTopicError",
  "InvalidEventError",
]);
/** Broker error codes that refuse the record itself (kafkajs keeps them in `type`). */
const NEVER_BY_TYPE = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD"]);

/**
 * How a failed publish is retried: `never` when the record itself is refused (too large, not its
 * contract, a Parley error that says never), `outage` for anything else the broker answers, so a
 * broker that is down is waited out without bound instead of turning webhooks into dead letters.
 * (kafkajs marks a broker unreachable after its own retries as not retriable, so its flag cannot
 * be read as "never"; the Kafka layer's own classification will replace this.)
 */
export function publishRetryOf(error: unknown): RetryKind {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (typeof e !== "object" || e === null) break;
    const { name, type, retry, cause, originalError } = e as {
      name?: unknown;
      type?: unknown;
      retry?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (retry === "never" || NEVER_BY_NAME.has(String(name)) || NEVER_BY_TYPE.has(String(type))) {
      return "never";
    }
    e = cause ?? originalError;
  }
  return "outage";
}

const bytesOf = (record: EncodedEvent): number =>
  record.value.length + Buffer.byteLength(record.key) + RECORD_EXTRA_BYTES;

/**
 * Publishes one contact's events to their catalog topics with the topic's key: per topic, the
 * events in the given order, the topics in parallel (there is no order across topics to keep).
 * Each record is encoded and checked against its topic's record limit before anything is sent:
 * an event that cannot fit is never produced (the broker's refusal would put the idempotent
 * producer out of step). A topic's records go in calls that each fit one record batch, one
 * after the other, so the contact's order holds even when a call fails.
 */
export function createCatalogPublisher(
  producer: EventProducer,
  catalog: Catalog,
): Publish<AnyEvent> {
  const translate = (error: unknown): PublishError =>
    error instanceof PublishError
      ? error
      : new PublishError(
          `publish failed: ${error instanceof Error ? error.message : String(error)}`,
          publishRetryOf(error),
          error,
        );
  return async (events) => {
    const byTopic = new Map<TopicSpec, AnyEvent[]>();
    for (const event of events) {
      const topic = catalog.topicOf(event.type);
      const list = byTopic.get(topic) ?? [];
      list.push(event);
      byTopic.set(topic, list);
    }
    let encoded: (readonly [TopicSpec, EncodedEvent[]])[];
    try {
      encoded = await Promise.all(
        [...byTopic].map(
          async ([topic, list]) =>
            [
              topic,
              await Promise.all(
                list.map(async (event) => {
                  const record = await producer.encode(topic, { key: topic.keyOf(event), event });
                  const bytes = bytesOf(record);
                  if (bytes + BATCH_HEADER_BYTES > topic.maxRecordBytes) {
                    throw new RecordTooLargeForTopicError(event, bytes, topic);
                  }
                  return record;
                }),
              ),
            ] as const,
        ),
      );
    } catch (error) {
      // Before anything was sent: nothing of this contact's events is on the wire.
      throw new PublishError(
        error instanceof Error ? error.message : String(error),
        publishRetryOf(error),
        error,
      );
    }
    try {
      await Promise.all(
        encoded.map(async ([topic, records]) => {
          for (const chunk of chunks(records, topic.maxRecordBytes - BATCH_HEADER_BYTES)) {
            await producer.publishEncoded(topic, chunk);
          }
        }),
      );
    } catch (error) {
      throw translate(error);
    }
  };
}

/** Consecutive runs of records whose bytes add up to at most `limit` (one record at least). */
function chunks(records: readonly EncodedEvent[], limit: number): EncodedEvent[][] {
  const out: EncodedEvent[][] = [];
  let current: EncodedEvent[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = bytesOf(record);
    if (current.length > 0 && bytes + size > limit) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
