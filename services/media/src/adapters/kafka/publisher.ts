import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import type { Publish } from "@parley/decider";
import type { EncodedEvent, EventProducer } from "@parley/kafka";

/**
 * Publishes one contact's events to their catalog topics with each topic's key: per topic in
 * the given order, the topics in parallel (there is no order across topics to keep). Every
 * record is encoded first, and the Kafka layer refuses one over its topic's record limit
 * (`RecordTooLargeError`, retry never) before anything is sent, so an event that cannot fit
 * sends none of the contact's events. Failures carry the layer's retry decision (ADR 0007): a
 * broker that is down is an outage, waited out; a record the broker refuses is never.
 */
export function createCatalogPublisher(
  producer: Pick<EventProducer, "encode" | "publishEncoded">,
  catalog: Catalog,
): Publish<AnyEvent> {
  return async (events) => {
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
  };
}
