import type { AnyEvent, Catalog, TopicSpec } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import { batched, settledValue, type BatchOptions } from "../../outbound/batch.js";
import type { Publish } from "../../outbound/handler.js";

/**
 * The outbound side's publisher: events published by many contacts at once go out as one
 * produce request per topic (acks=all), instead of one request each queueing behind the other
 * on the idempotent producer's single in-flight request. A caller resolves once its own events
 * are acknowledged.
 *
 * Per-key order holds: one call's events keep their order inside their topic's batch, and a
 * contact publishes again only after its previous call resolved (the handler serialises a
 * contact), so two batches never hold events of one contact that could overtake each other.
 */
export function createBatchedPublisher(
  producer: EventProducer,
  catalog: Catalog,
  batch: BatchOptions = {},
): Publish {
  const publishAll = batched<readonly AnyEvent[], undefined>(async (calls) => {
    const byTopic = new Map<TopicSpec, AnyEvent[]>();
    for (const events of calls) {
      for (const event of events) {
        const topic = catalog.topicOf(event.type);
        const list = byTopic.get(topic);
        if (list === undefined) byTopic.set(topic, [event]);
        else list.push(event);
      }
    }
    await Promise.all(
      [...byTopic].map(([topic, events]) =>
        producer.publish(
          topic,
          events.map((event) => ({ key: topic.keyOf(event), event })),
        ),
      ),
    );
    return calls.map(() => settledValue(undefined));
  }, batch);
  return async (events) => {
    if (events.length > 0) await publishAll(events);
  };
}
