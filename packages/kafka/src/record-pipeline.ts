import { retryOf } from "@parley/errors";
import { sleep } from "@parley/errors";
import { backoffDelay, outageDelay, type RetryPolicy } from "./backoff.js";
import type { KafkaLogger } from "./connection.js";
import { errorMessage } from "./errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import {
  textHeaders,
  type ConsumedRecord,
  type ConsumerRunnerOptions,
  type OutputRecord,
  type PartitionState,
  type RawRecord,
  type RecordContext,
  type RunnerStats,
  type SideTask,
} from "./runner-types.js";
import { withConsumerSpan } from "./tracing.js";

/** How a record leaves the pipeline, which differs between the plain and the transactional mode. */
export interface RecordEnd {
  /** The record is done, with the outputs its handler published (none outside transactional mode). */
  finish(state: PartitionState, record: RawRecord, outputs: readonly OutputRecord[]): void;
  /** The record goes to the dead-letter topic; false when the runner stopped first (not done). */
  deadLetter(
    state: PartitionState,
    record: RawRecord,
    error: unknown,
    attempts: number,
  ): Promise<boolean>;
  /** Whether handlers may publish outputs. */
  readonly publishes: boolean;
}

export interface RecordPipeline {
  /** Decodes, orders and handles one record; `finished(state)` is called once it leaves the runner's hands. */
  process(state: PartitionState, record: RawRecord, queueKey: string): Promise<void>;
  /** Main-track records taken and unfinished, by partition, record key and concurrency key. */
  pending(id: string): number;
  /** Side-track records taken and unfinished, by partition and record key. */
  setAsidePending(id: string): number;
  /** Resolves when everything handed to the second stage and the side track has settled. */
  drain(): Promise<void>;
}

/**
 * The per-record work of the consumer runner: decode, the optional finer concurrency and side
 * track, the handler under the retry policy, and the record's end (done with its outputs, or
 * dead-lettered).
 */
export function createRecordPipeline<T>({
  options: { decode, handle, concurrencyKeyOf, setAside, groupId },
  policy,
  stats,
  stopping,
  random,
  logger,
  end,
  finished,
}: {
  options: Pick<
    ConsumerRunnerOptions<T>,
    "decode" | "handle" | "concurrencyKeyOf" | "setAside" | "groupId"
  >;
  policy: RetryPolicy;
  stats: RunnerStats;
  stopping: AbortSignal;
  random: () => number;
  logger: KafkaLogger | undefined;
  end: RecordEnd;
  /** One record of `state` finished or was handed back: the bounds may have room again. */
  finished: (state: PartitionState) => void;
}): RecordPipeline {
  /** Second stage, used with concurrencyKeyOf only: decoded records by their concurrency key. */
  const subQueue = new KeyedQueue();
  /** The side track (setAside), by concurrency key. */
  const sideQueue = new KeyedQueue();
  /** Main-track records taken and unfinished, by partition and record key, and by concurrency key. */
  const keyLoad = new Map<string, number>();
  const subLoad = new Map<string, number>();
  /** Side-track records taken and unfinished, by partition and record key. */
  const asideLoad = new Map<string, number>();
  const bump = (counts: Map<string, number>, id: string, by: number): void => {
    const n = (counts.get(id) ?? 0) + by;
    if (n > 0) counts.set(id, n);
    else counts.delete(id);
  };
  const cancelledNow = (state: PartitionState): boolean => state.revoked || stopping.aborted;

  /** A context whose outputs are kept for one attempt. */
  const contextFor = (outputs: OutputRecord[]): RecordContext => ({
    publish(...more) {
      if (!end.publishes)
        throw new Error(
          `consumer ${groupId}: context.publish needs the runner's transactional mode (ConsumerRunnerOptions.transactional)`,
        );
      outputs.push(...more);
    },
  });

  /**
   * Runs `work` under the retry policy, from the failure's retry decision alone (retryOf):
   * `outage` (a dependency unavailable) is tried again in place without bound, the key's later
   * records waiting behind it; `bounded` is tried again up to `policy.attempts` times; `never`
   * (and a bounded failure's last attempt) goes to the dead-letter topic at once, so a poison
   * record cannot hold its partition. "handed-back" when the runner stops or the partition is
   * revoked meanwhile (the record is not done).
   */
  const withRetries = async <R>(
    state: PartitionState,
    record: RawRecord,
    retrying: string,
    work: (attempt: number) => Promise<R>,
  ): Promise<{ value: R } | "dead-lettered" | "handed-back"> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await work(attempt) };
      } catch (error) {
        if (cancelledNow(state)) {
          stats.handedBack++;
          return "handed-back";
        }
        const kind = retryOf(error);
        if (kind === "outage" || (kind === "bounded" && attempt < policy.attempts)) {
          stats.retried++;
          const delay =
            kind === "outage"
              ? outageDelay(policy, attempt, random)
              : backoffDelay(policy, attempt, random);
          logger?.warn(
            {
              groupId,
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              attempt,
              delayMs: delay,
              retry: kind,
              err: errorMessage(error),
            },
            kind === "outage" ? `${retrying} (a dependency is unavailable; waiting)` : retrying,
          );
          if (!(await sleep(delay, stopping))) {
            stats.handedBack++;
            return "handed-back";
          }
          continue;
        }
        if (await end.deadLetter(state, record, error, attempt)) return "dead-lettered";
        stats.handedBack++;
        return "handed-back";
      }
    }
  };

  const handleDecoded = async (
    state: PartitionState,
    record: RawRecord,
    base: Omit<ConsumedRecord<T>, "attempt">,
    work: SideTask<T> = handle,
  ): Promise<void> => {
    let outputs: OutputRecord[] = [];
    const result = await withRetries(state, record, "handler failed; retrying", (attempt) => {
      outputs = [];
      const context = contextFor(outputs);
      return withConsumerSpan(record, groupId, () => work({ ...base, attempt }, stopping, context));
    });
    if (result === "handed-back" || result === "dead-lettered") return;
    stats.processed++;
    end.finish(state, record, outputs);
  };

  const deadLetterNow = async (state: PartitionState, record: RawRecord, error: unknown) => {
    if (!(await end.deadLetter(state, record, error, 1))) stats.handedBack++;
  };

  const process = async (
    state: PartitionState,
    record: RawRecord,
    queueKey: string,
  ): Promise<void> => {
    let handedOff = false;
    try {
      if (cancelledNow(state)) {
        stats.handedBack++;
        return;
      }
      let value: T;
      try {
        value = await decode(record);
      } catch (error) {
        await deadLetterNow(state, record, error);
        return;
      }
      const base = {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key === null ? null : record.key.toString(),
        value,
        headers: textHeaders(record.headers),
        timestamp: record.timestamp,
      };
      if (concurrencyKeyOf === undefined) {
        await handleDecoded(state, record, base);
        return;
      }
      let subKey: string;
      try {
        subKey = concurrencyKeyOf({ ...base, attempt: 1 });
      } catch (error) {
        await deadLetterNow(state, record, error);
        return;
      }
      let side: SideTask<T> | undefined;
      if (setAside !== undefined) {
        // A retriable failure is waited out here, in order: the key's next records wait.
        const decided = await withRetries(
          state,
          record,
          "set-aside decision failed; retrying",
          (attempt) =>
            Promise.resolve(
              setAside({ ...base, attempt }, { inFlight: keyLoad.get(queueKey) ?? 0 }),
            ),
        );
        if (decided === "handed-back" || decided === "dead-lettered") return;
        side = decided.value;
      }
      const subId = `${queueKey}\u0000${subKey}`;
      // Handed to the second stage without waiting, so the next record of this key decodes now.
      handedOff = true;
      // What this record counts towards while it is taken and unfinished (pending, setAsidePending).
      const loads: readonly (readonly [Map<string, number>, string])[] =
        side === undefined
          ? [
              [keyLoad, queueKey],
              [subLoad, subId],
            ]
          : [[asideLoad, queueKey]];
      for (const [counts, id] of loads) bump(counts, id, 1);
      void (side === undefined ? subQueue : sideQueue).run(subId, async () => {
        try {
          if (cancelledNow(state)) {
            stats.handedBack++;
            return;
          }
          await handleDecoded(state, record, base, side);
        } finally {
          for (const [counts, id] of loads) bump(counts, id, -1);
          finished(state);
        }
      });
    } finally {
      if (!handedOff) finished(state);
    }
  };

  return {
    process,
    pending: (id) => subLoad.get(id) ?? 0,
    setAsidePending: (id) => asideLoad.get(id) ?? 0,
    drain: () => Promise.all([subQueue.drain(), sideQueue.drain()]).then(() => undefined),
  };
}
