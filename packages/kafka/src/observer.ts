import type { Consumer } from "kafkajs";

/**
 * What the consumers made from one Kafka client tell whoever watches the whole process (the
 * service chassis turns it into Prometheus series: consumer lag, dead letters), so no service
 * wires its consumers' metrics by hand. Every callback is optional and must not throw.
 */
export interface KafkaObserver {
  /** A kafkajs consumer was made from the client (each consumer runner makes one). */
  consumerCreated?(groupId: string, consumer: Consumer): void;
  /** A consumer sent a record to its dead-letter topic; `reason` is the error's class name. */
  deadLettered?(info: {
    readonly groupId: string;
    readonly topic: string;
    readonly reason: string;
  }): void;
  /**
   * A request went to a broker from a producer, consumer or admin made from the client (kafkajs's
   * REQUEST instrumentation event): the round trips to Kafka, by API (`Produce`, `Fetch`,
   * `OffsetCommit`, `Heartbeat`...). Called once per request, after its answer.
   */
  request?(info: { readonly apiName: string }): void;
}
