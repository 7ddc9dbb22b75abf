import type { Batch, Consumer, EachBatchPayload, IHeaders, KafkaMessage } from "kafkajs";
import { headerNames } from "@parley/contracts";
import { retryOf } from "@parley/errors";
import {
  backoffDelay,
  defaultRetryPolicy,
  outageDelay,
  sleep,
  type RetryPolicy,
} from "./backoff.js";
import {
  checkGroupSettings,
  groupInstanceIdOf,
  type KafkaClient,
  type KafkaLogger,
} from "./connection.js";
import { errorClass, errorMessage, ParleyKafkaError } from "./errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import { OffsetTracker } from "./offset-tracker.js";
import { createRecordProducer } from "./record-producer.js";
import { withConsumerSpan } from "./tracing.js";

/** A record as it came off the topic, before decoding. */
export interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
  readonly timestamp: string;
}

export interface ConsumedRecord<T> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: T;
  /** Header values as strings (first value of repeated headers). */
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: string;
  /** 1 on the first try, then 2, 3... while the handler's failures are retriable. */
  readonly attempt: number;
}

export interface DeadLetterInfo {
  readonly record: RawRecord;
  readonly error: unknown;
  readonly attempts: number;
}

export interface ConsumerRunnerOptions<T> {
  readonly kafka: KafkaClient;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Bytes to value; throw (e.g. PoisonRecordError) for a record that can never be processed. */
  readonly decode: (record: RawRecord) => T | Promise<T>;
  /** Must be idempotent: a rebalance or crash can deliver a record again. `signal` aborts on shutdown. */
  readonly handle: (record: ConsumedRecord<T>, signal: AbortSignal) => Promise<void>;
  /** Where records go after a non-retriable failure or the last retry (catalog.deadLetterTopic(consumer).name). */
  readonly deadLetterTopic: string;
  readonly retry?: Partial<RetryPolicy>;
  /** Records taken but unfinished before the consumer pauses fetching; resumes at half. */
  readonly maxInFlight?: number;
  /**
   * Records of one partition taken but unfinished before fetching from that partition alone
   * pauses (resumes at half); other partitions keep flowing. Default: `maxInFlight`, which
   * leaves the consumer-wide bound alone to act, and one busy partition then holds up fetching
   * for all of them. Keep half of it at least the records the busiest key handles in a fetch
   * wait (500 ms), or a resumed partition idles until the fetch in progress returns.
   */
  readonly maxInFlightPerPartition?: number;
  readonly commitIntervalMs?: number;
  readonly fromBeginning?: boolean;
  /** Default: the client's (`kafka.group`, from KAFKA_SESSION_TIMEOUT_MS in services). */
  readonly sessionTimeoutMs?: number;
  /** Default: the client's (`kafka.group`, from KAFKA_HEARTBEAT_INTERVAL_MS in services). */
  readonly heartbeatIntervalMs?: number;
  /**
   * Static membership: this member's group.instance.id. Default: `<kafka.group.instanceId>.<groupId>`
   * when the client has an instance id (KAFKA_GROUP_INSTANCE_ID), else none (dynamic membership).
   */
  readonly groupInstanceId?: string;
  /** At least the largest record the topics allow (their max.message.bytes). */
  readonly maxBytesPerPartition?: number;
  readonly logger?: KafkaLogger;
  readonly onDeadLetter?: (info: DeadLetterInfo) => void;
  readonly random?: () => number;
  /**
   * Finer concurrency inside a record key (optional; default: the record key alone). Records of
   * one partition and key are decoded in offset order; then records whose concurrency key is
   * the same run one at a time in offset order, and different ones run in parallel. The sender
   * keys `dispatch` (record key: the business number) by recipient. Commits still stop below a
   * partition's oldest unfinished record, and maxInFlight still bounds the work taken.
   */
  readonly concurrencyKeyOf?: (record: ConsumedRecord<T>) => string;
  /**
   * A side track (with concurrencyKeyOf only). Asked for each record in offset order per record
   * key, once it is decoded, with `inFlight`: the records of its partition and key on the main
   * track, taken and unfinished. A record it takes (it returns a task) does not wait behind its
   * concurrency key's records on the main track: the task runs in order with the side-track
   * records of that concurrency key, with the same retries and dead letters as `handle`, and
   * the record is done when the task resolves. The sender parks a number's backlog this way, so
   * one number cannot fill its partition's bound (ADR 0006).
   */
  readonly setAside?: (
    record: ConsumedRecord<T>,
    load: { readonly inFlight: number },
  ) => SideTask<T> | undefined | Promise<SideTask<T> | undefined>;
}

/** Work for a record taken onto the runner's side track (see `setAside`). */
export type SideTask<T> = (record: ConsumedRecord<T>, signal: AbortSignal) => Promise<void>;

export interface RunnerStats {
  processed: number;
  retried: number;
  deadLettered: number;
  handedBack: number;
  inFlight: number;
  pauses: number;
  /** Times one partition was paused because its own records in flight reached their bound. */
  partitionPauses: number;
  commits: number;
}

export interface ConsumerRunner {
  readonly name: string;
  /** The consumer group (its committed offsets are where the group resumes). */
  readonly groupId: string;
  readonly stats: Readonly<RunnerStats>;
  /**
   * This member's partitions of `topic` in the current group generation (empty before the first
   * join and after stop), and a count that moves on at every join and at stop: when it changed,
   * ownership may have moved.
   */
  assignment(topic: string): { readonly partitions: readonly number[]; readonly joins: number };
  /**
   * Records of one partition, record key and concurrency key on the main track, taken and not
   * finished (0 without concurrencyKeyOf): what a side-track record of that concurrency key is
   * still behind.
   */
  pending(topic: string, partition: number, key: string, concurrencyKey: string): number;
  /** Records of one partition and record key on the side track, taken and not finished. */
  setAsidePending(topic: string, partition: number, key: string): number;
  start(): Promise<void>;
  /** Stops fetching, lets running handlers finish, hands back queued records, commits, leaves the group. */
  stop(): Promise<void>;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly tracker: OffsetTracker;
  revoked: boolean;
  /** Records of this partition taken and not finished. */
  inFlight: number;
  /** Fetching from this partition alone is paused (its own bound), until half are done. */
  paused: boolean;
}

/** A fetched message with its coordinates, as handlers and dead letters see it. */
export function rawRecord(
  batch: Pick<Batch, "topic" | "partition">,
  message: KafkaMessage,
): RawRecord {
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers ?? {},
    timestamp: message.timestamp,
  };
}

const textHeaders = (headers: IHeaders): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
};

/**
 * Consumes `topics` with key-level concurrency: records with different keys run in parallel,
 * records with the same key strictly in order, and a partition's offset is committed only up
 * to its first unfinished record. Retriable failures are retried in place with back-off (the
 * key waits, other keys flow); the rest go to the dead-letter topic with their coordinates.
 */
export function createConsumerRunner<T>({
  kafka,
  groupId,
  topics,
  decode,
  handle,
  deadLetterTopic,
  retry = {},
  maxInFlight = 500,
  maxInFlightPerPartition = maxInFlight,
  commitIntervalMs = 250,
  fromBeginning = true,
  sessionTimeoutMs = kafka.group.sessionTimeoutMs,
  heartbeatIntervalMs = kafka.group.heartbeatIntervalMs,
  groupInstanceId = groupInstanceIdOf(kafka.group, groupId),
  maxBytesPerPartition = 1024 * 1024,
  logger,
  onDeadLetter,
  random = Math.random,
  concurrencyKeyOf,
  setAside,
}: ConsumerRunnerOptions<T>): ConsumerRunner {
  if (topics.length === 0)
    throw new Error(`createConsumerRunner(${groupId}): no topics to consume`);
  if (maxInFlight < 1)
    throw new Error(`createConsumerRunner(${groupId}): maxInFlight must be at least 1`);
  if (maxInFlightPerPartition < 1)
    throw new Error(`createConsumerRunner(${groupId}): maxInFlightPerPartition must be at least 1`);
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...retry };
  checkGroupSettings({ sessionTimeoutMs, heartbeatIntervalMs });
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    readUncommitted: false,
    maxBytesPerPartition,
    maxBytes: Math.max(10 * 1024 * 1024, maxBytesPerPartition * 2),
    // A disconnect waits for the fetch in progress; with kafkajs' 5 s long poll a graceful stop
    // often ran past its bound and left the group without a LeaveGroup, so the remaining
    // members waited out the session timeout (30 s) before taking the partitions over.
    maxWaitTimeInMs: 500,
  });
  const dlqProducer = createRecordProducer({ kafka, name: `dead letters of ${groupId}`, logger });
  const queue = new KeyedQueue();
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
  const partitions = new Map<string, PartitionState>();
  const stopping = new AbortController();
  const stats: RunnerStats = {
    processed: 0,
    retried: 0,
    deadLettered: 0,
    handedBack: 0,
    inFlight: 0,
    pauses: 0,
    partitionPauses: 0,
    commits: 0,
  };
  let room: { promise: Promise<void>; resolve: () => void } | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> = Promise.resolve();

  const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  /*
   * Back-pressure: past maxInFlight the batch handler itself waits (heartbeating) until half
   * the work is done, so kafkajs fetches nothing more for these partitions meanwhile. This is
   * far cheaper than consumer.pause()/resume(), whose resume waits for the next fetch cycle.
   */
  const waitForRoom = async (payload: EachBatchPayload): Promise<void> => {
    if (stats.inFlight < maxInFlight) return;
    stats.pauses++;
    logger?.debug(
      { groupId, inFlight: stats.inFlight },
      "fetching paused: too much work in flight",
    );
    while (
      stats.inFlight > Math.floor(maxInFlight / 2) &&
      !stopping.signal.aborted &&
      payload.isRunning() &&
      !payload.isStale()
    ) {
      if (!room) {
        let resolve: () => void = () => undefined;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        room = { promise, resolve };
      }
      await Promise.race([room.promise, sleep(1_000, stopping.signal)]);
      await payload.heartbeat();
    }
  };
  const resumeIfDrained = (): void => {
    if (room && stats.inFlight <= Math.floor(maxInFlight / 2)) {
      room.resolve();
      room = undefined;
    }
  };
  /** One record of `state` finished or was handed back: the bounds may have room again. */
  const finished = (state: PartitionState): void => {
    stats.inFlight--;
    state.inFlight--;
    if (state.paused && state.inFlight <= Math.floor(maxInFlightPerPartition / 2)) {
      state.paused = false;
      // A revoked partition's pause went with the assignment (see GROUP_JOIN).
      if (!state.revoked && !stopping.signal.aborted)
        consumer.resume([{ topic: state.topic, partitions: [state.partition] }]);
    }
    resumeIfDrained();
  };

  const boundedStep = async (step: string, work: Promise<void>, ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        resolve("timeout");
      }, ms);
    });
    const outcome = await Promise.race([
      work.then(
        () => "done" as const,
        () => "failed" as const,
      ),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome !== "done")
      logger?.warn(
        { groupId, step, outcome, boundMs: ms },
        `consumer stop: ${step} ${outcome === "timeout" ? "timed out" : "failed"}; going on`,
      );
  };

  const commitNow = (): Promise<void> => {
    committing = committing.then(async () => {
      const offsets: {
        topic: string;
        partition: number;
        offset: string;
        state: PartitionState;
        at: bigint;
      }[] = [];
      for (const state of partitions.values()) {
        const at = state.tracker.committable();
        if (at !== undefined && !state.revoked)
          offsets.push({
            topic: state.topic,
            partition: state.partition,
            offset: at.toString(),
            state,
            at,
          });
      }
      if (offsets.length === 0) return;
      try {
        await consumer.commitOffsets(
          offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
        );
        for (const o of offsets) o.state.tracker.markCommitted(o.at);
        stats.commits++;
      } catch (error) {
        // A rebalance in progress refuses commits; the new owner resumes from the last commit
        // and the handlers' idempotency covers the overlap.
        logger?.warn({ groupId, err: errorMessage(error) }, "offset commit failed; will retry");
      }
    });
    return committing;
  };

  const sendToDeadLetter = async (
    record: RawRecord,
    error: unknown,
    attempts: number,
  ): Promise<boolean> => {
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
      [h.failedAt]: new Date().toISOString(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await dlqProducer.send(deadLetterTopic, [
          { key: record.key, value: record.value, headers },
        ]);
        stats.deadLettered++;
        onDeadLetter?.({ record, error, attempts });
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
        return true;
      } catch (produceError) {
        logger?.warn(
          { groupId, err: errorMessage(produceError), attempt },
          "dead-letter produce failed; retrying",
        );
        if (!(await sleep(backoffDelay(policy, attempt, random), stopping.signal))) return false;
      }
    }
  };

  const cancelledNow = (state: PartitionState): boolean => state.revoked || stopping.signal.aborted;

  const processRecord = async (
    state: PartitionState,
    record: RawRecord,
    queueKey: string,
  ): Promise<void> => {
    const offset = BigInt(record.offset);
    const done = (): void => {
      state.tracker.complete(offset);
    };
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
        if (await sendToDeadLetter(record, error, 1)) done();
        else stats.handedBack++;
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
        await handleDecoded(state, record, base, done);
        return;
      }
      let subKey: string;
      try {
        subKey = concurrencyKeyOf({ ...base, attempt: 1 });
      } catch (error) {
        if (await sendToDeadLetter(record, error, 1)) done();
        else stats.handedBack++;
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
        if (decided === "handed-back") return;
        if (decided === "dead-lettered") {
          done();
          return;
        }
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
          await handleDecoded(state, record, base, done, side);
        } finally {
          for (const [counts, id] of loads) bump(counts, id, -1);
          finished(state);
        }
      });
    } finally {
      if (!handedOff) finished(state);
    }
  };

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
          if (!(await sleep(delay, stopping.signal))) {
            stats.handedBack++;
            return "handed-back";
          }
          continue;
        }
        if (await sendToDeadLetter(record, error, attempt)) return "dead-lettered";
        stats.handedBack++;
        return "handed-back";
      }
    }
  };

  const handleDecoded = async (
    state: PartitionState,
    record: RawRecord,
    base: Omit<ConsumedRecord<T>, "attempt">,
    done: () => void,
    work: SideTask<T> = handle,
  ): Promise<void> => {
    const result = await withRetries(state, record, "handler failed; retrying", (attempt) =>
      withConsumerSpan(record, groupId, () => work({ ...base, attempt }, stopping.signal)),
    );
    if (result === "handed-back") return;
    if (result !== "dead-lettered") stats.processed++;
    done();
  };

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const id = tpKey(batch.topic, batch.partition);
    let state = partitions.get(id);
    if (!state) {
      state = {
        topic: batch.topic,
        partition: batch.partition,
        tracker: new OffsetTracker(),
        revoked: false,
        inFlight: 0,
        paused: false,
      };
      partitions.set(id, state);
    }
    for (const message of batch.messages) {
      if (payload.isStale() || stopping.signal.aborted) break;
      const offset = BigInt(message.offset);
      const highest = state.tracker.highest;
      // After a rebalance that kept this partition, Kafka re-sends from the last commit:
      // those records are already queued or done here.
      if (highest !== undefined && offset <= highest) continue;
      if (state.inFlight >= maxInFlightPerPartition) {
        // This partition alone waits: the rest of the batch stays unresolved, so it is fetched
        // again once half of the partition's records are done, and the fetcher meanwhile serves
        // the other partitions instead of waiting here.
        if (!state.paused) {
          state.paused = true;
          stats.partitionPauses++;
        }
        // Every time (a no-op when paused): a pause lost in a rebalance must not turn into
        // fetching the same records again and again.
        consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
        break;
      }
      state.tracker.add(offset);
      stats.inFlight++;
      state.inFlight++;
      const record = rawRecord(batch, message);
      const key =
        record.key === null ? `\u0000null-key-${batch.partition}` : record.key.toString("latin1");
      const owner = state;
      const queueKey = `${id}\u0000${key}`;
      void queue.run(queueKey, () => processRecord(owner, record, queueKey));
      payload.resolveOffset(message.offset);
      await waitForRoom(payload);
    }
    await payload.heartbeat();
  };

  let assigned = new Map<string, number[]>();
  let joins = 0;

  return {
    name: `consumer ${groupId}`,
    groupId,
    stats,
    assignment(topic) {
      return { partitions: assigned.get(topic) ?? [], joins };
    },
    setAsidePending(topic, partition, key) {
      return asideLoad.get(`${tpKey(topic, partition)}\u0000${key}`) ?? 0;
    },
    pending(topic, partition, key, concurrencyKey) {
      return subLoad.get(`${tpKey(topic, partition)}\u0000${key}\u0000${concurrencyKey}`) ?? 0;
    },
    async start(): Promise<void> {
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joins++;
        assigned = new Map(
          Object.entries(payload.memberAssignment).map(([topic, ps]) => [topic, [...ps]]),
        );
        const now = new Set<string>();
        for (const [topic, ps] of assigned) for (const p of ps) now.add(tpKey(topic, p));
        const unpause: { topic: string; partitions: number[] }[] = [];
        for (const [id, state] of partitions) {
          if (!now.has(id)) {
            state.revoked = true;
            partitions.delete(id);
            // A partition paused for its own bound must not stay paused for its next owner
            // here (kafkajs keeps pauses by topic and partition across generations).
            if (state.paused) unpause.push({ topic: state.topic, partitions: [state.partition] });
          }
        }
        if (unpause.length > 0) consumer.resume(unpause);
        logger?.info({ groupId, assignment: payload.memberAssignment }, "partitions assigned");
      });
      await dlqProducer.connect();
      await consumer.connect();
      for (const topic of topics) {
        try {
          await consumer.subscribe({ topic, fromBeginning });
        } catch (error) {
          if ((error as { type?: unknown }).type === "UNKNOWN_TOPIC_OR_PARTITION") {
            throw new ParleyKafkaError(
              `topic ${topic} does not exist; run \`parley-kafka provision\` (make dev does) and start again`,
              {
                retry: "never",
                cause: error,
                context: { topic, groupId },
              },
            );
          }
          throw error;
        }
      }
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 4,
        eachBatch,
      });
      commitTimer = setInterval(() => void commitNow(), commitIntervalMs);
    },
    async stop(): Promise<void> {
      if (stopping.signal.aborted) return;
      consumer.pause(topics.map((topic) => ({ topic })));
      stopping.abort();
      assigned = new Map();
      joins++;
      clearInterval(commitTimer);
      await queue.drain();
      await Promise.all([subQueue.drain(), sideQueue.drain()]);
      // While kafkajs is reconnecting or rejoining (a broker outage), a commit or a disconnect
      // can wait on its own retries for longer than a shutdown may take. Each step is bounded:
      // what is not committed is redelivered, which the handlers' idempotency covers.
      await boundedStep("final commit", commitNow(), 2_000);
      await boundedStep("consumer disconnect", consumer.disconnect(), 3_000);
      await boundedStep("dead-letter producer disconnect", dlqProducer.disconnect(), 1_000);
      logger?.info({ groupId, ...stats }, "consumer stopped");
    },
  };
}
