import type { IHeaders } from "kafkajs";
import { headerNames } from "@parley/contracts";
import { backoffDelay, sleep, type RetryPolicy } from "./backoff.js";
import type { KafkaClient, KafkaLogger } from "./connection.js";
import { errorClass, errorMessage } from "./errors.js";
import { createRecordProducer } from "./record-producer.js";
import type { DeadLetterInfo, OutputRecord, RawRecord, RunnerStats } from "./runner-types.js";

/** A failed record as its dead letter: the original key, value and headers, the reason and coordinates. */
export function deadLetterOf(
  record: RawRecord,
  error: unknown,
  attempts: number,
  { groupId, deadLetterTopic, now }: { groupId: string; deadLetterTopic: string; now: Date },
): OutputRecord {
  const h = headerNames.dlq;
  const headers: IHeaders = {
    ...record.headers,
    [h.originalTopic]: record.topic,
    [h.originalPartition]: String(record.partition),
    [h.originalOffset]: record.offset,
    [h.errorClass]: errorClass(error),
    [h.errorMessage]: errorMessage(error).slice(0, 4_000),
    [h.attempts]: String(attempts),
    [h.consumerGroup]: groupId,
    [h.failedAt]: now.toISOString(),
  };
  return { topic: deadLetterTopic, key: record.key, value: record.value, headers };
}

export interface DeadLetters {
  /** The dead letter of `record`, counted and logged (to be sent by the caller). */
  letter(record: RawRecord, error: unknown, attempts: number): OutputRecord;
  /** Sends the dead letter now, trying until it is written or the runner stops (false then). */
  send(record: RawRecord, error: unknown, attempts: number): Promise<boolean>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * The dead-letter side of a runner. Outside transactional mode the letters go through a producer
 * of their own, renewed after any failure like every producer of the layer; in transactional
 * mode they are outputs of their record, committed with its offset (`letter`).
 */
export function createDeadLetters({
  kafka,
  groupId,
  deadLetterTopic,
  logger,
  policy,
  random,
  stopping,
  stats,
  onDeadLetter,
}: {
  kafka: KafkaClient;
  groupId: string;
  deadLetterTopic: string;
  logger: KafkaLogger | undefined;
  policy: RetryPolicy;
  random: () => number;
  stopping: AbortSignal;
  stats: RunnerStats;
  onDeadLetter: ((info: DeadLetterInfo) => void) | undefined;
}): DeadLetters {
  let producer: ReturnType<typeof createRecordProducer> | undefined;
  const note = (record: RawRecord, error: unknown, attempts: number): void => {
    stats.deadLettered++;
    onDeadLetter?.({ record, error, attempts });
    kafka.observer?.deadLettered?.({ groupId, topic: record.topic, reason: errorClass(error) });
    logger?.error(
      {
        groupId,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        errorClass: errorClass(error),
        attempts,
        deadLetterTopic,
      },
      `record dead-lettered: ${errorMessage(error)}`,
    );
  };
  return {
    letter(record, error, attempts) {
      note(record, error, attempts);
      return deadLetterOf(record, error, attempts, { groupId, deadLetterTopic, now: new Date() });
    },
    async send(record, error, attempts) {
      producer ??= createRecordProducer({ kafka, name: `dead letters of ${groupId}`, logger });
      const out = deadLetterOf(record, error, attempts, {
        groupId,
        deadLetterTopic,
        now: new Date(),
      });
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send(deadLetterTopic, [
            { key: out.key, value: out.value, headers: out.headers ?? {} },
          ]);
          note(record, error, attempts);
          return true;
        } catch (produceError) {
          logger?.warn(
            { groupId, err: errorMessage(produceError), attempt },
            "dead-letter produce failed; retrying",
          );
          if (!(await sleep(backoffDelay(policy, attempt, random), stopping))) return false;
        }
      }
    },
    async connect() {
      producer ??= createRecordProducer({ kafka, name: `dead letters of ${groupId}`, logger });
      await producer.connect();
    },
    async disconnect() {
      await producer?.disconnect();
    },
  };
}
