import { setMaxListeners } from "node:events";
import type { Admin, Consumer, EachBatchPayload } from "kafkajs";
import { sleep } from "@parley/errors";
import { defaultRetryPolicy, type RetryPolicy } from "./backoff.js";
import { checkGroupSettings, groupInstanceIdOf } from "./connection.js";
import { consumerControl } from "./consumer-control.js";
import { createDeadLetters } from "./dead-letter.js";
import { createFenceReclaim } from "./fence-reclaim.js";
import { errorMessage, ParleyKafkaError } from "./errors.js";
import type { HealthReporter } from "./health.js";
import { KeyedQueue } from "./keyed-queue.js";
import { OffsetTracker } from "./offset-tracker.js";
import {
  createPartitionTransactions,
  type FetchCommitted,
  type PartitionTransactions,
} from "./partition-transactions.js";
import { createRecordPipeline, type RecordEnd } from "./record-pipeline.js";
import {
  emptyRunnerStats,
  rawRecord,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type PartitionState,
} from "./runner-types.js";

export {
  rawRecord,
  type CommittedOutputs,
  type ConsumedRecord,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type DeadLetterInfo,
  type OutputRecord,
  type RawRecord,
  type RecordContext,
  type RunnerStats,
  type SideTask,
  type TransactionalMode,
} from "./runner-types.js";

/** A partition this member owns, with its transactions in transactional mode. */
interface OwnedPartition extends PartitionState {
  tx?: PartitionTransactions;
}

/**
 * Consumes `topics` with key-level concurrency: records with different keys run in parallel,
 * records with the same key strictly in order, and a partition's offset is committed only up
 * to its first unfinished record. Retriable failures are retried in place with back-off (the
 * key waits, other keys flow); the rest go to the dead-letter topic with their coordinates.
 * In transactional mode (`transactional`) each partition's finished records, their outputs and
 * dead letters are committed in Kafka transactions with the offset (ADR 0007).
 */
export function createConsumerRunner<T>(options: ConsumerRunnerOptions<T>): ConsumerRunner {
  const {
    kafka,
    groupId,
    topics,
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
    maxBytes = Math.max(10 * 1024 * 1024, maxBytesPerPartition * 2),
    logger,
    onDeadLetter,
    random = Math.random,
    transactional,
  } = options;
  if (topics.length === 0)
    throw new Error(`createConsumerRunner(${groupId}): no topics to consume`);
  if (maxInFlight < 1)
    throw new Error(`createConsumerRunner(${groupId}): maxInFlight must be at least 1`);
  if (maxInFlightPerPartition < 1)
    throw new Error(`createConsumerRunner(${groupId}): maxInFlightPerPartition must be at least 1`);
  checkGroupSettings({ sessionTimeoutMs, heartbeatIntervalMs });
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...retry };
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    readUncommitted: false,
    maxBytesPerPartition,
    maxBytes: Math.max(maxBytes, maxBytesPerPartition),
    // A disconnect waits for the fetch in progress; with kafkajs' 5 s long poll a graceful stop
    // often ran past its bound and left the group without a LeaveGroup, so the remaining
    // members waited out the session timeout (30 s) before taking the partitions over.
    maxWaitTimeInMs: 500,
  });
  const queue = new KeyedQueue();
  const partitions = new Map<string, OwnedPartition>();
  const stopping = new AbortController();
  // Every key waiting out a retry listens on it (and removes its listener when done): dozens at
  // once is normal, not the leak Node warns of past ten.
  setMaxListeners(0, stopping.signal);
  const stats = emptyRunnerStats();
  const deadLetters = createDeadLetters({
    kafka,
    groupId,
    deadLetterTopic,
    logger,
    policy,
    random,
    stopping: stopping.signal,
    stats,
    onDeadLetter,
  });
  let room: { promise: Promise<void>; resolve: () => void } | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> = Promise.resolve();
  let admin: Admin | undefined;
  let health: HealthReporter | undefined;
  let txHealth: HealthReporter | undefined;
  const txFailures = new Map<string, string>();
  /** Partitions paused because a batch came for them after this member gave them up. */
  const unowned = new Set<string>();

  const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  const { fetchControl, boundedStep } = consumerControl(consumer, groupId, logger);
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
        fetchControl("resume", [{ topic: state.topic, partitions: [state.partition] }]);
    }
    resumeIfDrained();
  };

  /** Plain mode: the committable offsets of every partition in one OffsetCommit. */
  const commitOffsets = async (): Promise<void> => {
    const offsets: { topic: string; partition: number; state: PartitionState; at: bigint }[] = [];
    for (const state of partitions.values()) {
      const at = state.tracker.committable();
      if (at !== undefined && !state.revoked)
        offsets.push({ topic: state.topic, partition: state.partition, state, at });
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(
        offsets.map(({ topic, partition, at }) => ({ topic, partition, offset: at.toString() })),
      );
      for (const o of offsets) o.state.tracker.markCommitted(o.at);
      stats.commits++;
    } catch (error) {
      // A rebalance in progress refuses commits; the new owner resumes from the last commit
      // and the handlers' idempotency covers the overlap.
      logger?.warn({ groupId, err: errorMessage(error) }, "offset commit failed; will retry");
    }
  };
  /** Transactional mode: one transaction per partition with something new, side by side. */
  const commitTransactions = async (): Promise<void> => {
    await Promise.all(
      [...partitions.values()].map(async (state) => {
        if (state.tx !== undefined && !state.revoked) await state.tx.commit();
      }),
    );
  };
  const commitNow = (): Promise<void> => {
    committing = committing.then(transactional === undefined ? commitOffsets : commitTransactions);
    return committing;
  };

  const fetchCommitted: FetchCommitted = async (topic, partition) => {
    if (admin === undefined) throw new Error(`consumer ${groupId}: not started`);
    const [found] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const p = found?.partitions.find((x) => x.partition === partition);
    const offset = p === undefined || Number(p.offset) < 0 ? undefined : BigInt(p.offset);
    return { offset, metadata: p?.metadata ?? null };
  };

  const reportTx = (id: string, error: unknown): void => {
    if (error === undefined) txFailures.delete(id);
    else txFailures.set(id, errorMessage(error));
    if (txFailures.size === 0) txHealth?.ok();
    else
      txHealth?.failing(
        [...txFailures].map(([tp, why]) => `${tp.replace("\u0000", "[")}]: ${why}`).join("; "),
      );
  };

  const reclaim = createFenceReclaim({
    delayMs: sessionTimeoutMs + heartbeatIntervalMs,
    stopping: stopping.signal,
    stillOurs: (topic, partition, joinsAtFence) =>
      joins === joinsAtFence &&
      !partitions.has(tpKey(topic, partition)) &&
      (assigned.get(topic) ?? []).includes(partition),
    takeUp: async (topic, partition, firstRead) => {
      const fresh = own(topic, partition);
      try {
        await fresh.tx?.ready();
        const offset = (await fetchCommitted(topic, partition)).offset ?? firstRead;
        if (stopping.signal.aborted || fresh.revoked) return false;
        if (offset !== undefined) consumer.seek({ topic, partition, offset: offset.toString() });
        unowned.delete(tpKey(topic, partition));
        fetchControl("resume", [{ topic, partitions: [partition] }]);
        stats.reclaimed++;
        return { from: offset };
      } catch (error) {
        giveUp(tpKey(topic, partition), fresh);
        throw error;
      }
    },
    logger,
    groupId,
  });

  /** The runner's state for a partition assigned to it, its transactions opened in that mode. */
  const own = (topic: string, partition: number): OwnedPartition => {
    const id = tpKey(topic, partition);
    const existing = partitions.get(id);
    if (existing) return existing;
    const state: OwnedPartition = {
      topic,
      partition,
      tracker: new OffsetTracker(),
      revoked: false,
      inFlight: 0,
      paused: false,
    };
    if (transactional !== undefined) {
      state.tx = createPartitionTransactions({
        kafka,
        groupId,
        topic,
        partition,
        tracker: state.tracker,
        mode: transactional,
        fetchCommitted,
        logger,
        onFenced: () => {
          stats.fenced++;
          state.revoked = true;
          if (partitions.get(id) === state) partitions.delete(id);
          reportTx(id, undefined);
          reclaim.afterFence(topic, partition, joins, state.tracker.first);
        },
        onResult: (error) => {
          reportTx(id, error);
        },
      });
      // Fence earlier owners now, before the first batch of the partition arrives.
      state.tx.ready().catch((error: unknown) => {
        logger?.warn(
          { groupId, topic, partition, err: errorMessage(error) },
          "could not open the partition's transactions yet; retrying at its first batch",
        );
      });
    }
    partitions.set(id, state);
    return state;
  };

  const end: RecordEnd =
    transactional === undefined
      ? {
          publishes: false,
          finish: (state, record) => {
            state.tracker.complete(BigInt(record.offset));
          },
          deadLetter: async (state, record, error, attempts) => {
            const sent = await deadLetters.send(record, error, attempts);
            if (sent) state.tracker.complete(BigInt(record.offset));
            return sent;
          },
        }
      : {
          publishes: true,
          finish: (state, record, outputs) => {
            const offset = BigInt(record.offset);
            (state as OwnedPartition).tx?.finish(offset, outputs);
            state.tracker.complete(offset);
          },
          deadLetter: (state, record, error, attempts) => {
            const offset = BigInt(record.offset);
            (state as OwnedPartition).tx?.finish(offset, [
              deadLetters.letter(record, error, attempts),
            ]);
            state.tracker.complete(offset);
            return Promise.resolve(true);
          },
        };
  const pipeline = createRecordPipeline({
    options,
    policy,
    stats,
    stopping: stopping.signal,
    random,
    logger,
    end,
    finished,
  });

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const id = tpKey(batch.topic, batch.partition);
    if (payload.isStale()) return;
    // In transactional mode a partition's state exists from its assignment (GROUP_JOIN) only:
    // opening transactions for a batch of a partition given up would fence its new owner.
    const state =
      transactional === undefined ? own(batch.topic, batch.partition) : partitions.get(id);
    if (state === undefined) {
      // Not ours any more (given up, or fenced): no refetching in a loop until the group
      // rebalances; the next assignment resumes it (GROUP_JOIN).
      fetchControl("pause", [{ topic: batch.topic, partitions: [batch.partition] }]);
      unowned.add(id);
      return;
    }
    if (state.tx !== undefined) {
      // Until the partition's earlier owners are fenced and their progress read, nothing runs.
      try {
        await state.tx.ready();
      } catch (error) {
        logger?.warn(
          { groupId, topic: batch.topic, partition: batch.partition, err: errorMessage(error) },
          "partition transactions not open; the batch is fetched again",
        );
        await sleep(500, stopping.signal);
        return;
      }
    }
    let handedAll = true;
    for (const message of batch.messages) {
      if (payload.isStale() || stopping.signal.aborted || state.revoked) {
        handedAll = false;
        break;
      }
      const offset = BigInt(message.offset);
      const highest = state.tracker.highest;
      // After a rebalance that kept this partition, Kafka re-sends from the last commit:
      // those records are already queued or done here; resolved, or a batch of them alone (the
      // commit held far behind by an outage) would be fetched again for good.
      if (highest !== undefined && offset <= highest) {
        payload.resolveOffset(message.offset);
        continue;
      }
      if (state.tx?.finishedEarlier(offset) === true) {
        // An earlier owner finished it and committed its outputs: done without running again.
        state.tracker.add(offset);
        state.tracker.complete(offset);
        stats.skipped++;
        payload.resolveOffset(message.offset);
        continue;
      }
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
        fetchControl("pause", [{ topic: batch.topic, partitions: [batch.partition] }]);
        handedAll = false;
        break;
      }
      state.tracker.add(offset);
      stats.inFlight++;
      state.inFlight++;
      const record = rawRecord(batch, message);
      const key =
        record.key === null ? `\u0000null-key-${batch.partition}` : record.key.toString("latin1");
      const queueKey = `${id}\u0000${key}`;
      void queue.run(queueKey, () => pipeline.process(state, record, queueKey));
      payload.resolveOffset(message.offset);
      await waitForRoom(payload);
    }
    // A batch can end in records Kafka does not deliver (a transaction marker, aborted records).
    if (handedAll && !payload.isStale() && !state.revoked) skipFiltered(state, batch.lastOffset());
    await payload.heartbeat();
  };

  /** Marks the undelivered records up to `lastOffset` finished (see OffsetTracker.skipTo). */
  const skipFiltered = (state: OwnedPartition, lastOffset: string): void => {
    const last = BigInt(lastOffset);
    if (last < 0n) return;
    state.tracker.skipTo(last);
  };

  let assigned = new Map<string, number[]>();
  let joins = 0;

  /** Drops a partition this member no longer owns: its queued records are handed back. */
  const giveUp = (id: string, state: OwnedPartition): void => {
    state.revoked = true;
    partitions.delete(id);
    txFailures.delete(id);
    void state.tx?.close();
  };

  return {
    name: `consumer ${groupId}`,
    groupId,
    stats,
    assignment(topic) {
      return { partitions: assigned.get(topic) ?? [], joins };
    },
    setAsidePending(topic, partition, key) {
      return pipeline.setAsidePending(`${tpKey(topic, partition)}\u0000${key}`);
    },
    pending(topic, partition, key, concurrencyKey) {
      return pipeline.pending(`${tpKey(topic, partition)}\u0000${key}\u0000${concurrencyKey}`);
    },
    publishWith(topic, partition, outputs) {
      const state = partitions.get(tpKey(topic, partition));
      if (transactional === undefined || state?.tx === undefined || state.revoked)
        return Promise.reject(
          new ParleyKafkaError(
            transactional === undefined
              ? `consumer ${groupId}: publishWith needs the runner's transactional mode`
              : `consumer ${groupId}: partition ${topic}[${String(partition)}] is not owned by this member`,
            {
              retry: transactional === undefined ? "never" : "bounded",
              context: { topic, partition },
            },
          ),
        );
      return state.tx.attach(outputs);
    },
    async start(): Promise<void> {
      // /readyz says "starting" until the first join, then follows crashes (kafka.health).
      health ??= kafka.health.register(`consumer ${groupId}`, "starting", "joining its group");
      if (transactional !== undefined)
        txHealth ??= kafka.health.register(`transactions of ${groupId}`, "ok");
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        const why = errorMessage(payload.error);
        if (payload.restart) health?.starting(`rejoining after a crash: ${why}`);
        else health?.failing(`crashed and stopped: ${why}`);
      });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        health?.ok();
        joins++;
        assigned = new Map(
          Object.entries(payload.memberAssignment).map(([topic, ps]) => [topic, [...ps]]),
        );
        const now = new Set<string>();
        for (const [topic, ps] of assigned) for (const p of ps) now.add(tpKey(topic, p));
        const unpause: { topic: string; partitions: number[] }[] = [];
        for (const [id, state] of partitions) {
          if (!now.has(id)) {
            giveUp(id, state);
            // A partition paused for its own bound must not stay paused for its next owner
            // here (kafkajs keeps pauses by topic and partition across generations).
            if (state.paused) unpause.push({ topic: state.topic, partitions: [state.partition] });
          }
        }
        for (const id of unowned) {
          const [topic, partition] = id.split("\u0000");
          if (topic !== undefined && partition !== undefined)
            unpause.push({ topic, partitions: [Number(partition)] });
        }
        unowned.clear();
        // Every assigned partition not paused for its bound here is fetched: the pause of a
        // state dropped when fenced (its completions resume nothing) would outlive the rebalance
        // giving the partition back (kafkajs keeps pauses across generations).
        // And every one paused for its bound stays paused: after a crash kafkajs joins with a
        // new group that holds no pauses, and the bound would be fetched past.
        const keepPaused: { topic: string; partitions: number[] }[] = [];
        for (const [topic, ps] of assigned)
          for (const p of ps)
            (own(topic, p).paused ? keepPaused : unpause).push({ topic, partitions: [p] });
        if (unpause.length > 0) fetchControl("resume", unpause);
        if (keepPaused.length > 0) fetchControl("pause", keepPaused);
        logger?.info({ groupId, assignment: payload.memberAssignment }, "partitions assigned");
      });
      if (transactional === undefined) await deadLetters.connect();
      else {
        admin = kafka.admin();
        await admin.connect();
      }
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
      // A fetch holding nothing but undelivered records (a trailing transaction marker) never
      // reaches eachBatch: kafkajs resolves it itself and, with autoCommit off, commits nothing.
      consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
        // firstOffset is null when nothing at or above the fetched offset came back (records
        // below it, from a compressed batch): nothing was passed over then.
        // (kafkajs types it as a string; its batch returns null then.)
        const firstOffset = payload.firstOffset as string | null;
        if (payload.batchSize !== 0 || firstOffset === null) return;
        const state = partitions.get(tpKey(payload.topic, payload.partition));
        if (state !== undefined && !state.revoked) skipFiltered(state, payload.lastOffset);
      });
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
      fetchControl(
        "pause",
        topics.map((topic) => ({ topic })),
      );
      stopping.abort();
      assigned = new Map();
      joins++;
      clearInterval(commitTimer);
      await queue.drain();
      await pipeline.drain();
      // While kafkajs is reconnecting or rejoining (a broker outage), a commit or a disconnect
      // can wait on its own retries for longer than a shutdown may take. Each step is bounded:
      // what is not committed is redelivered, which the handlers' idempotency covers.
      await boundedStep("final commit", commitNow(), transactional === undefined ? 2_000 : 5_000);
      await boundedStep("consumer disconnect", consumer.disconnect(), 3_000);
      const closing = [...partitions.values()].map((s) => s.tx?.close() ?? Promise.resolve());
      partitions.clear();
      await boundedStep(
        "transactions close",
        Promise.all(closing).then(() => undefined),
        2_000,
      );
      await boundedStep("dead-letter producer disconnect", deadLetters.disconnect(), 1_000);
      await boundedStep("admin disconnect", admin?.disconnect() ?? Promise.resolve(), 1_000);
      health?.remove();
      txHealth?.remove();
      logger?.info({ groupId, ...stats }, "consumer stopped");
    },
  };
}
