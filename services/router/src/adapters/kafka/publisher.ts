import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import type { Publish } from "../../inbound/handler.js";

/**
 * Publishes events to their catalog topics with the topic's key: one call per topic holding its
 * events in the given order, the topics in parallel. Each topic thus sees a contact's events in
 * decided order; there is no order across topics to keep.
 */
export function createCatalogPublisher(producer: EventProducer, catalog: Catalog): Publish {
  return async (events) => {
    const byTopic = new Map<TopicSpec, AnyEvent[]>();
    for (const event of events) {
      const topic = catalog.topicOf(event.type);
      const list = byTopic.get(topic) ?? [];
      list.push(event);
      byTopic.set(topic, list);
    }
    await Promise.all(
      [...byTopic].map(([topic, batch]) =>
        producer.publish(
          topic,
          batch.map((event) => ({ key: topic.keyOf(event), event })),
        ),
      ),
    );
  };
}
