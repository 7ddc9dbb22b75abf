import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import type { EncodedEvent, EventProducer } from "./producer.js";

/**
 * Publishes events to their catalog topics with each topic's key: grouped by topic, each topic's
 * events in the given order, the topics in parallel (there is no order across topics to keep).
 * Every record is encoded first, and the producer refuses one over its topic's record limit
 * (`RecordTooLargeError`, retry never) before anything is sent, so an event that cannot fit
 * sends none of the events. Failures carry the producer's retry decision (ADR 0007): a broker
 * that is down is an outage; a record the broker refuses is never. The one group-by-topic
 * publish (issue 21).
 */
export async function publishEvents(
  producer: Pick<EventProducer, "encode" | "publishEncoded">,
  catalog: Pick<Catalog, "topicOf">,
  events: readonly AnyEvent[],
): Promise<void> {
  const byTopic = new Map<TopicSpec, AnyEvent[]>();
  for (const event of events) {
    const topic = catalog.topicOf(event.type);
    const list = byTopic.get(topic) ?? [];
    list.push(event);
    byTopic.set(topic, list);
  }
  const encoded: (readonly [TopicSpec, EncodedEvent[]])[] = await Promise.all(
    [...byTopic].map(
      async ([topic, list]) =>
        [
          topic,
          await Promise.all(
            list.map((event) => producer.encode(topic, { key: topic.keyOf(event), event })),
          ),
        ] as const,
    ),
  );
  await Promise.all(encoded.map(([topic, records]) => producer.publishEncoded(topic, records)));
}

/**
 * `publishEvents` bound to a producer and a catalog: the publish port of a decider's command
 * handler (`@parley/decider`'s `Publish`), one contact's events per call.
 */
export function createCatalogPublisher(
  producer: Pick<EventProducer, "encode" | "publishEncoded">,
  catalog: Pick<Catalog, "topicOf">,
): (events: readonly AnyEvent[]) => Promise<void> {
  return (events) => publishEvents(producer, catalog, events);
}
