import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import type { Publish } from "../../inbound/handler.js";

/**
 * Publishes events to their catalog topics with the topic's key. Consecutive events of one topic
 * go in one call; calls run in order, so each topic sees a contact's events in decided order.
 */
export function createCatalogPublisher(producer: EventProducer, catalog: Catalog): Publish {
  return async (events) => {
    let run: { topic: TopicSpec; events: AnyEvent[] } | undefined;
    const runs: { topic: TopicSpec; events: AnyEvent[] }[] = [];
    for (const event of events) {
      const topic = catalog.topicOf(event.type);
      if (run?.topic !== topic) {
        run = { topic, events: [] };
        runs.push(run);
      }
      run.events.push(event);
    }
    for (const { topic, events: batch } of runs) {
      await producer.publish(
        topic,
        batch.map((event) => ({ key: topic.keyOf(event), event })),
      );
    }
  };
}
