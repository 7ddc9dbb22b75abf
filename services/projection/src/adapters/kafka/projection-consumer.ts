import type { AnyEvent, Catalog, TopicId } from "@parley/contracts";
import { headerNames } from "@parley/contracts";
import {
  createConsumerRunner,
  PoisonRecordError,
  type ConsumerRunner,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import { partitionKey } from "../../generations/ports.js";
import { gather } from "../../projector/gather.js";
import type { Projector } from "../../projector/projector.js";

/** Every topic the read models are made from (their retention is ADR 0011's). */
export const PROJECTION_TOPICS: readonly TopicId[] = [
  "send-requests",
  "dispatch",
  "send-outcomes",
  "statuses",
  "inbound-messages",
  "conversation-windows",
  "consent",
  "media",
  "business-events",
  "audit",
];

/** Bytes at most in one fetch response (the largest record still comes whole: KIP-74). */
export const FETCH_BYTES = 2 * 1024 * 1024;

/** The consumer name in the catalog: its dead letters go to `parley.dlq.projection`. */
export const CONSUMER = "projection";

/** Each generation has its own consumer group, so a rebuild reads the log from its start. */
export const groupOf = (catalog: Catalog, generation: number): string =>
  `${catalog.prefix}parley.${CONSUMER}.g${String(generation)}`;

/** The trace id of a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "");
  return match?.[1];
}

export interface ProjectionConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly generation: number;
  readonly projector: Projector;
  /** An as-of rebuild: per partition, the first offset not to apply. */
  readonly stopAt?: ReadonlyMap<string, number>;
  readonly maxInFlight?: number;
  /** Records at most in one apply of the projector (those of one turn are applied together). */
  readonly applyBatch?: number;
  readonly logger?: KafkaLogger;
  /** Called per record applied (or skipped past an as-of cut), for metrics. */
  readonly onRecord?: (outcome: "applied" | "skipped") => void;
}

/**
 * Record -> event -> projector -> commit. Records are decoded through the registry and checked
 * against their topic's contract (a record that is not one is a poison record: dead-lettered with
 * the reason); the projector's failures carry their retry decision (a store outage is waited out,
 * a document MongoDB refuses is dead-lettered). Records of one key run in order, keys in parallel.
 */
export function createProjectionConsumer({
  kafka,
  serde,
  catalog,
  generation,
  projector,
  stopAt,
  maxInFlight = 1_000,
  applyBatch = 500,
  logger,
  onRecord = () => undefined,
}: ProjectionConsumerOptions): ConsumerRunner {
  const topics = PROJECTION_TOPICS.map((id) => catalog.topic(id));
  const byName = new Map(topics.map((t) => [t.name, t]));
  const largest = Math.max(1024 * 1024, ...topics.map((t) => t.maxRecordBytes));
  const windows = catalog.topic("conversation-windows").name;
  // The records of a fetch arrive in one turn: applied together, one apply per turn.
  const apply = gather(projector, { maxEvents: applyBatch });
  return createConsumerRunner<AnyEvent>({
    kafka,
    groupId: groupOf(catalog, generation),
    topics: topics.map((t) => t.name),
    deadLetterTopic: catalog.deadLetterTopic(CONSUMER).name,
    decode: async (record) => {
      const topic = byName.get(record.topic);
      if (topic === undefined) throw new PoisonRecordError(`no contract for topic ${record.topic}`);
      return (await serde.decode(topic, record.value)) as AnyEvent;
    },
    handle: async (record) => {
      const cut = stopAt?.get(partitionKey(record.topic, record.partition));
      if (cut !== undefined && Number(record.offset) >= cut) {
        onRecord("skipped");
        return;
      }
      const traceId = traceIdOf(record.headers[headerNames.traceparent]);
      await apply({ event: record.value, ...(traceId === undefined ? {} : { traceId }) });
      onRecord("applied");
    },
    // The read models are joins of their events: order does not change them, so records run in
    // parallel (the business-keyed dispatch topic would otherwise run one record at a time). The
    // one exception: a contact's window events keep their order (an extension names no window).
    concurrencyKeyOf: (record) =>
      record.topic === windows ? `window:${record.key ?? ""}` : `record:${record.offset}`,
    maxInFlight,
    maxBytesPerPartition: largest,
    // Events are about 1 KB and at most maxInFlight are taken at once: a 10 MB response (the
    // runner's default) held some 10,000 decoded records, a tenth of the service's heap.
    maxBytes: FETCH_BYTES,
    fromBeginning: true,
    ...(logger === undefined ? {} : { logger }),
  });
}
