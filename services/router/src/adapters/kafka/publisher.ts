import type { AnyEvent, Catalog } from "@parley/contracts";
import type { Publish } from "@parley/decider";
import { publishEvents, type EventProducer } from "@parley/kafka";

/**
 * Publishes one contact's events to their catalog topics with each topic's key (`publishEvents`:
 * per topic in the given order, the topics in parallel, every record encoded and size-checked
 * before any is sent, so an event that cannot fit sends none of the contact's events). Failures
 * carry the Kafka layer's retry decision (ADR 0007): a broker that is down is an outage, waited
 * out; a record the broker refuses is never.
 */
export function createCatalogPublisher(
  producer: Pick<EventProducer, "encode" | "publishEncoded">,
  catalog: Catalog,
): Publish<AnyEvent> {
  return (events) => publishEvents(producer, catalog, events);
}
