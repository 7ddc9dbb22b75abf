import type { IHeaders, Producer } from "kafkajs";
import { headerNames, type TopicSpec } from "@parley/contracts";
import { createProducer, type KafkaClient } from "./connection.js";
import { createProduceBatcher, type ProduceBatchLimits } from "./produce-batcher.js";
import type { Serde } from "./serde.js";
import { withProducerSpan } from "./tracing.js";

/** The envelope fields the producer copies into headers, so consumers can route without decoding. */
interface EnvelopeLike {
  readonly eventId: string;
  readonly type: string;
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
  /** Validates, encodes and appends `records` to `topic`; resolves once all in-sync replicas have them. */
  publish(topic: TopicSpec, records: readonly OutgoingEvent[]): Promise<void>;
  /**
   * Validates and encodes one record for `topic` without sending it: a caller that batches
   * records from independent requests encodes each on its own, so a bad one fails alone.
   */
  encode(topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent>;
  /** Appends records `encode` made for `topic`; resolves once all in-sync replicas have them. */
  publishEncoded(topic: TopicSpec, records: readonly EncodedEvent[]): Promise<void>;
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
  return headers;
}

/**
 * An idempotent producer (acks=all, one request in flight per connection so retries keep order)
 * with schema-registry encoding and W3C trace context plus correlation ids in the headers.
 * Concurrent publishes share produce requests (group commit, see `createProduceBatcher`): a
 * publish made while a request is out goes in the next one with every other waiting publish,
 * in call order, and resolves once that request is acknowledged.
 */
export function createEventProducer({
  kafka,
  serde,
  name = "producer",
  batch,
}: {
  kafka: KafkaClient;
  serde: Serde;
  name?: string;
  batch?: ProduceBatchLimits;
}): EventProducer {
  const producer: Producer = createProducer(kafka);
  const batcher = createProduceBatcher(async (topicMessages) => {
    await producer.sendBatch({ acks: -1, topicMessages });
  }, batch);
  let inFlight = 0;
  let idle: { promise: Promise<void>; resolve: () => void } | undefined;
  const encode = async (topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent> => ({
    topic: topic.name,
    key: record.key,
    value: await serde.encode(topic, record.event),
    event: record.event,
    ...(record.headers === undefined ? {} : { headers: record.headers }),
  });
  const send = async (topic: TopicSpec, records: readonly EncodedEvent[]): Promise<void> => {
    for (const r of records) {
      if (r.topic !== topic.name) {
        throw new RangeError(
          `${name}: a record encoded for ${r.topic} cannot be published to ${topic.name}`,
        );
      }
    }
    await withProducerSpan(topic.name, records.length, (trace) =>
      batcher.append(
        topic.name,
        records.map((r) => ({
          key: r.key,
          value: r.value,
          headers: eventHeaders(r.event, trace, r.headers),
        })),
      ),
    );
  };
  /** Counts `work` in flight, so disconnect waits for it. */
  const tracked = async (work: () => Promise<void>): Promise<void> => {
    inFlight++;
    try {
      await work();
    } finally {
      inFlight--;
      if (inFlight === 0) idle?.resolve();
    }
  };
  return {
    name,
    connect: () => producer.connect(),
    encode,
    async publish(topic, records) {
      if (records.length === 0) return;
      await tracked(async () => {
        const encoded = await Promise.all(records.map((r) => encode(topic, r)));
        await send(topic, encoded);
      });
    },
    async publishEncoded(topic, records) {
      if (records.length === 0) return;
      await tracked(() => send(topic, records));
    },
    async disconnect() {
      if (inFlight > 0) {
        // Every caller of disconnect waits for the same moment: the last in-flight publish.
        if (!idle) {
          let resolve: () => void = () => undefined;
          const promise = new Promise<void>((r) => {
            resolve = r;
          });
          idle = { promise, resolve };
        }
        await idle.promise;
      }
      await producer.disconnect();
    },
  };
}
