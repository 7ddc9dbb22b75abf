import type { Consumer, EachBatchPayload, IHeaders, Producer } from "kafkajs";
import { createProducer, type KafkaClient, type KafkaLogger } from "./connection.js";
import { rawRecord, type RawRecord } from "./runner.js";
import { withConsumerSpan, traceHeaders } from "./tracing.js";

export interface OutputRecord {
  readonly topic: string;
  readonly key: string | Buffer | null;
  readonly value: Buffer;
  readonly headers?: IHeaders;
}

export interface TransactionalOptions {
  readonly kafka: KafkaClient;
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * One id per input partition owner is safest; a fixed id per deployment instance works with
   * Kafka 2.5+ fencing by group generation. A crashed instance's open transaction is aborted
   * when the next producer with this id starts.
   */
  readonly transactionalId: string;
  /** Pure transformation of one input into outputs; throwing aborts the whole batch's transaction. */
  readonly transform: (record: RawRecord) => Promise<readonly OutputRecord[]>;
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly logger?: KafkaLogger;
  /** Test hook: runs after the outputs are sent and before the transaction commits. */
  readonly beforeCommit?: (batch: {
    topic: string;
    partition: number;
    lastOffset: string;
  }) => Promise<void>;
}

export interface TransactionalProcessor {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Exactly-once consume-transform-produce inside Kafka: each input batch's outputs and its
 * input offsets are committed in one transaction, so after any crash the outputs of an input
 * are visible to read-committed consumers exactly once.
 */
export function createTransactionalProcessor({
  kafka,
  groupId,
  topics,
  transactionalId,
  transform,
  fromBeginning = true,
  sessionTimeoutMs = 30_000,
  logger,
  beforeCommit,
}: TransactionalOptions): TransactionalProcessor {
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: sessionTimeoutMs,
  });
  const producer: Producer = createProducer(kafka, { transactionalId });

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    const tx = await producer.transaction();
    try {
      for (const message of batch.messages) {
        const record = rawRecord(batch, message);
        const outputs = await withConsumerSpan(record, groupId, () => transform(record));
        const trace = traceHeaders();
        for (const out of outputs) {
          await tx.send({
            topic: out.topic,
            messages: [{ key: out.key, value: out.value, headers: { ...trace, ...out.headers } }],
          });
        }
      }
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: batch.topic,
            partitions: [
              { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
            ],
          },
        ],
      });
      await beforeCommit?.({
        topic: batch.topic,
        partition: batch.partition,
        lastOffset: batch.lastOffset(),
      });
      await tx.commit();
      // The offsets were committed inside the transaction; this only moves the fetch position.
      payload.resolveOffset(batch.lastOffset());
      await payload.heartbeat();
    } catch (error) {
      logger?.warn(
        {
          groupId,
          topic: batch.topic,
          partition: batch.partition,
          err: error instanceof Error ? error.message : String(error),
        },
        "transaction aborted; the batch will be processed again",
      );
      await tx.abort().catch(() => undefined);
      throw error;
    }
  };

  return {
    name: `transactional ${groupId}`,
    async start() {
      await producer.connect();
      await consumer.connect();
      for (const topic of topics) await consumer.subscribe({ topic, fromBeginning });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
    },
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
