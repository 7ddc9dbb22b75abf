import { buildEvent, type Catalog } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import type { PlannedSend, PublishSends } from "../../planning/ports.js";

/**
 * Sends -> SendRequested on send-requests, keyed by the contact. The envelope's correlation id is
 * the recipient's deterministic request id and its event id is derived from it, so a send
 * published again after a crash is the same record again (the router deduplicates by the
 * idempotency key; consumers by the event id). Resolves once all in-sync replicas have them.
 */
export function createSendPublisher({
  producer,
  catalog,
  eventIdOf,
}: {
  producer: EventProducer;
  catalog: Catalog;
  eventIdOf: (name: string) => string;
}): PublishSends {
  const topic = catalog.topic("send-requests");
  return async (sends: readonly PlannedSend[], now: Date) => {
    const records = await Promise.all(
      sends.map((s) =>
        producer.encode(topic, {
          key: s.contactId,
          event: buildEvent("SendRequested", s.request, {
            correlationId: s.requestId,
            now,
            eventId: eventIdOf(`${s.requestId}:SendRequested`),
          }),
        }),
      ),
    );
    await producer.publishEncoded(topic, records);
  };
}
