import type { Catalog } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import type { PublishSendRequested } from "../../sending/accept.js";

/** Appends SendRequested keyed by contact to the catalog's send-requests topic (acks=all). */
export function sendRequestedPublisher(
  producer: Pick<EventProducer, "publish">,
  catalog: Catalog,
): PublishSendRequested {
  const topic = catalog.topicOf("SendRequested");
  return (event) => producer.publish(topic, [{ key: topic.keyOf(event), event }]);
}
