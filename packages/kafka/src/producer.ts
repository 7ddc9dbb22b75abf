import type { IHeaders, Message } from "kafkajs";
import { headerNames, type TopicSpec } from "@parley/contracts";
import type { KafkaClient } from "./connection.js";
import type { ProduceBatchLimits, ProduceRecovery } from "./produce-batcher.js";
import { RecordTooLargeError } from "./produce-errors.js";
import { createRecordProducer } from "./record-producer.js";
import { singleRecordBatchBytes } from "./record-size.js";
import type { OutputRecord } from "./runner-types.js";
import type { Serde } from "./serde.js";
import { traceHeaders, withProducerSpan } from "./tracing.js";

/** The envelope fields the producer copies into headers, so consumers can route without decoding. */
interface EnvelopeLike {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion?: number;
  readonly correlationId: string;
  readonly causationId?: string | null;
}

export interface OutgoingEvent {
  /** The partition key: contact wa_id, business phone_number_id or raw, as the topic declares. */
  readonly key: string;
  readonly event: EnvelopeLike;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A record validated and encoded for one topic by `EventProducer.encode`, not yet sent. */
export interface EncodedEvent {
  /** The name of the topic it was encoded for: it can be published there only. */
  readonly topic: string;
  readonly key: string;
  /** The Confluent wire-format value. */
  readonly value: Buffer;
  readonly event: EnvelopeLike;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface EventProducer {
  readonly name: string;
  connect(): Promise<void>;
  /**
   * Validates, encodes and appends `records` to `topic`; resolves once all in-sync replicas have
   * them. Rejects with InvalidEventError or RecordTooLargeError (nothing of the call is sent) or
   * a ParleyKafkaError whose `retry` says whether to wait (outage) or give up (never).
   */
  publish(topic: TopicSpec, records: readonly OutgoingEvent[]): Promise<void>;
  /**
   * Validates and encodes one record for `topic` without sending it: a caller that batches
   * records from independent requests encodes each on its own, so a bad one fails alone. A
   * record over the topic's `maxRecordBytes` (key, value, headers, record-batch overhead) is
   * refused here with a RecordTooLargeError.
   */
  encode(topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent>;
  /**
   * Appends records `encode` made for `topic`; resolves once all in-sync replicas have them.
   * Checks each record's size again with the headers it is sent with.
   */
  publishEncoded(topic: TopicSpec, records: readonly EncodedEvent[]): Promise<void>;
  /**
   * Validates and encodes one event for `topic` as an output record for a consumer runner in
   * transactional mode (`context.publish`): the same value, headers (event id, type, correlation,
   * trace context of the caller's span) and size check as a publish, sent by the runner's
   * transaction instead of this producer.
   */
  output(topic: TopicSpec, record: OutgoingEvent): Promise<OutputRecord>;
  /** kafkajs producers used so far: one more after each failed produce (for tests and metrics). */
  readonly generation: number;
  /** Flushes what is in flight and closes. */
  disconnect(): Promise<void>;
}

export function eventHeaders(
  event: EnvelopeLike,
  trace: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): IHeaders {
  const headers: IHeaders = {
    ...extra,
    ...trace,
    [headerNames.eventId]: event.eventId,
    [headerNames.eventType]: event.type,
    [headerNames.correlationId]: event.correlationId,
  };
  if (event.causationId) headers[headerNames.causationId] = event.causationId;
  if (event.schemaVersion !== undefined)
    headers[headerNames.schemaVersion] = String(event.schemaVersion);
  return headers;
}

/** Room for a producer span's `traceparent` header when the encoding context has none. */
const TRACEPARENT_ALLOWANCE = 64;

/**
 * An idempotent producer (acks=all, one request in flight so retries keep order) with
 * schema-registry encoding and W3C trace context plus correlation ids in the headers.
 * Concurrent publishes share produce requests (group commit, see `createProduceBatcher`): a
 * publish made while a request is out goes in the next one with every other waiting publish,
 * in call order, and resolves once that request is acknowledged.
 *
 * It cannot lose records silently (issue 32): every record is checked against its topic's
 * `maxRecordBytes` before it is sent (RecordTooLargeError, retry "never": nothing of that call
 * is sent), and after any produce error the kafkajs producer is replaced by a fresh one (a new
 * producer id) and the failed calls are sent again through it (createRecordProducer). A
 * failure is a ParleyKafkaError with its retry decision: an outage (broker, leader or replicas
 * unavailable, timeouts) or never (a record or request the broker refuses, a missing topic, an
 * authorisation). A record of a failed request may so be appended twice: consumers deduplicate
 * by event id. While a fresh producer cannot deliver either, the client's health says so
 * (`kafka.health`, read by the chassis's /readyz) until a produce succeeds.
 */
export function createEventProducer({
  kafka,
  serde,
  name = "producer",
  batch,
  recovery,
}: {
  kafka: KafkaClient;
  serde: Serde;
  name?: string;
  batch?: ProduceBatchLimits;
  recovery?: ProduceRecovery;
}): EventProducer {
  const records = createRecordProducer({
    kafka,
    name,
    batch,
    recovery,
    logger: kafka.serviceLogger,
  });
  const checkSize = (topic: TopicSpec, message: Message, eventId: string): void => {
    const bytes = singleRecordBatchBytes(message);
    if (bytes > topic.maxRecordBytes)
      throw new RecordTooLargeError({
        topic: topic.name,
        bytes,
        limit: topic.maxRecordBytes,
        eventId,
      });
  };
  /** Validates and encodes; no size check (a send checks each record with its real headers). */
  const encodeOnly = async (topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent> => ({
    topic: topic.name,
    key: record.key,
    value: await serde.encode(topic, record.event),
    event: record.event,
    ...(record.headers === undefined ? {} : { headers: record.headers }),
  });
  /** encodeOnly, then the size check with the headers a send will add. */
  const encode = async (topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent> => {
    const encoded = await encodeOnly(topic, record);
    // This context's trace headers (a producer span's are as long as its parent's).
    const trace = traceHeaders();
    const headers = eventHeaders(record.event, trace, record.headers);
    const estimate: Message = {
      key: encoded.key,
      value: encoded.value,
      headers:
        "traceparent" in trace
          ? headers
          : { ...headers, traceparent: "0".repeat(TRACEPARENT_ALLOWANCE) },
    };
    checkSize(topic, estimate, record.event.eventId);
    return encoded;
  };
  const send = async (topic: TopicSpec, encoded: readonly EncodedEvent[]): Promise<void> => {
    for (const r of encoded) {
      if (r.topic !== topic.name) {
        throw new RangeError(
          `${name}: a record encoded for ${r.topic} cannot be published to ${topic.name}`,
        );
      }
    }
    await withProducerSpan(topic.name, encoded.length, async (trace) => {
      const messages = encoded.map((r) => ({
        key: r.key,
        value: r.value,
        headers: eventHeaders(r.event, trace, r.headers),
      }));
      // All or nothing for the call: an oversize record never enters a shared request.
      messages.forEach((m, i) => {
        checkSize(topic, m, encoded[i]?.event.eventId ?? "");
      });
      await records.send(topic.name, messages, topic.maxRecordBytes);
    });
  };
  return {
    name,
    connect: () => records.connect(),
    encode,
    async publish(topic, events) {
      if (events.length === 0) return;
      const encoded = await Promise.all(events.map((r) => encodeOnly(topic, r)));
      await send(topic, encoded);
    },
    async publishEncoded(topic, encoded) {
      if (encoded.length === 0) return;
      await send(topic, encoded);
    },
    async output(topic, record) {
      const encoded = await encodeOnly(topic, record);
      const message: Message = {
        key: encoded.key,
        value: encoded.value,
        headers: eventHeaders(record.event, traceHeaders(), record.headers),
      };
      checkSize(topic, message, record.event.eventId);
      return {
        topic: topic.name,
        key: encoded.key,
        value: encoded.value,
        headers: message.headers ?? {},
      };
    },
    get generation() {
      return records.generation;
    },
    disconnect: () => records.disconnect(),
  };
}
