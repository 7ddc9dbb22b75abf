import { randomBytes } from "node:crypto";
import type { Message, Producer, TopicMessages } from "kafkajs";
import { decodeCompleted, fitCompleted } from "./completed-offsets.js";
import { createProducer, type KafkaClient, type KafkaLogger } from "./connection.js";
import { errorMessage, ParleyKafkaError } from "./errors.js";
import type { OffsetTracker } from "./offset-tracker.js";
import { recordBytes } from "./record-size.js";
import type { CommittedOutputs, OutputRecord, TransactionalMode } from "./runner-types.js";

/** Where the group's committed offset of one partition is, and what its metadata says. */
export type FetchCommitted = (
  topic: string,
  partition: number,
) => Promise<{ offset: bigint | undefined; metadata: string | null }>;

/** One produce request's worth of a transaction's outputs: below every topic's record limit. */
const CHUNK_BYTES = 512 * 1024;
/** Room kept in the metadata for the transaction's tag (`~` + owner + counter). */
const TAG_BYTES = 24;

export interface PartitionTransactions {
  readonly topic: string;
  readonly partition: number;
  /**
   * Fences the partition's earlier owners (a transactional producer with the partition's id
   * aborts their open transaction) and reads where they left off. Resolves before any record of
   * the partition is processed here.
   */
  ready(): Promise<void>;
  /** Whether an earlier owner finished the record at `offset` (its outputs are committed). */
  finishedEarlier(offset: bigint): boolean;
  /** The record at `offset` is finished with these outputs; they wait for the next commit. */
  finish(offset: bigint, outputs: readonly OutputRecord[]): void;
  /** Outputs of no record, committed with the next transaction; resolves once committed. */
  attach(outputs: readonly OutputRecord[]): Promise<void>;
  /** One transaction with what is new, if anything; never rejects (failures are retried at the next). */
  commit(): Promise<void>;
  /** No more transactions; what is not committed is dropped (the next owner does it again). */
  close(): Promise<void>;
  /** The producer was fenced: another owner has the partition. */
  readonly fenced: boolean;
}

const isFenced = (error: unknown): boolean => {
  const { type, code } = (error ?? {}) as { type?: unknown; code?: unknown };
  // PRODUCER_FENCED (90) is INVALID_PRODUCER_EPOCH to the request versions kafkajs speaks.
  return type === "INVALID_PRODUCER_EPOCH" || type === "PRODUCER_FENCED" || code === 90;
};

const notOwned = (topic: string, partition: number, why: string) =>
  new ParleyKafkaError(
    `partition ${topic}[${String(partition)}] ${why}: its outputs were not committed here`,
    {
      retry: "bounded",
      context: { topic, partition },
    },
  );

/** Outputs in produce requests of at most CHUNK_BYTES, in order. */
function chunks(outputs: readonly OutputRecord[]): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let current = new Map<string, Message[]>();
  let bytes = 0;
  const flush = () => {
    if (current.size > 0)
      requests.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    bytes = 0;
  };
  for (const out of outputs) {
    const message: Message = { key: out.key, value: out.value, headers: out.headers ?? {} };
    const size = recordBytes(message);
    if (bytes > 0 && bytes + size > CHUNK_BYTES) flush();
    const list = current.get(out.topic);
    if (list === undefined) current.set(out.topic, [message]);
    else list.push(message);
    bytes += size;
  }
  flush();
  return requests;
}

/**
 * The transactions of one owned input partition (ConsumerRunnerOptions.transactional). Each
 * commit is one Kafka transaction: the outputs of the records finished since the last one, the
 * outputs attached to no record, and the partition's offset (its first unfinished record) with
 * the finished records above it in the metadata. What does not fit the metadata waits, outputs
 * included. A failed transaction is aborted, the producer replaced (same transactional.id: the
 * new one fences the old and waits for its transaction to end), and the committed offset read
 * back: if the transaction did commit (its unique tag is there) it counts as committed,
 * otherwise the same outputs go in the next one. A fenced producer drops the partition's work.
 */
export function createPartitionTransactions({
  kafka,
  groupId,
  topic,
  partition,
  tracker,
  mode: { transactionTimeoutMs = 10_000, maxMetadataBytes = 4_096, afterCommit, beforeCommit },
  fetchCommitted,
  logger,
  onFenced,
  onResult,
}: {
  kafka: KafkaClient;
  groupId: string;
  topic: string;
  partition: number;
  tracker: OffsetTracker;
  mode: TransactionalMode;
  fetchCommitted: FetchCommitted;
  logger?: KafkaLogger | undefined;
  onFenced: () => void;
  /** After each transaction attempt: undefined when it committed, else the error. */
  onResult: (error: unknown) => void;
}): PartitionTransactions {
  const transactionalId = `${groupId}.${topic}.${String(partition)}`;
  const owner = randomBytes(3).toString("base64url");
  let counter = 0;
  let producer: Producer | undefined;
  let opening: Promise<void> | undefined;
  let fenced = false;
  let closed = false;
  /** ready() has fenced the earlier owners and read where they left off. */
  let isReady = false;
  /** What the group had committed when this owner started, and the records it said were finished. */
  let base: bigint | undefined;
  let earlier = new Set<bigint>();
  /** The last commit of this owner (or the one found), as offset and metadata without the tag. */
  let last: { offset: bigint; set: string } | undefined;
  /** Outputs of finished records not committed yet, by offset. */
  const held = new Map<bigint, readonly OutputRecord[]>();
  const untied: {
    outputs: readonly OutputRecord[];
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  let running: Promise<void> | undefined;

  const open = async (): Promise<void> => {
    const p = createProducer(kafka, {
      transactionalId,
      transactionTimeout: transactionTimeoutMs,
      maxInFlightRequests: 1,
    });
    try {
      await p.connect();
      // InitProducerId with the partition's transactional.id: bumps the epoch, so every earlier
      // producer of it is fenced and its open transaction aborted (or, if it was committing,
      // waited for). An empty transaction sends nothing else.
      const init = await p.transaction();
      await init.abort();
    } catch (error) {
      void p.disconnect().catch(() => undefined);
      throw error;
    }
    producer = p;
  };
  const retire = (): void => {
    const p = producer;
    producer = undefined;
    if (p !== undefined) void p.disconnect().catch(() => undefined);
  };

  type Untied = (typeof untied)[number];
  /** A transaction whose commit failed on the way back: it may have committed after all. */
  let doubt:
    | {
        metadata: string;
        records: bigint[];
        taken: Untied[];
        summary: CommittedOutputs;
        set: string;
      }
    | undefined;

  const dropAll = (error: ParleyKafkaError): void => {
    held.clear();
    // A transaction in doubt cannot be settled any more: its callers hear it was not committed
    // here (it may have been; event ids absorb a repeat).
    for (const u of [...untied.splice(0), ...(doubt?.taken ?? [])]) u.reject(error);
    doubt = undefined;
  };

  const committed = async (
    records: readonly bigint[],
    taken: readonly Untied[],
    summary: CommittedOutputs,
    offset: bigint,
    set: string,
  ): Promise<void> => {
    for (const o of records) held.delete(o);
    for (const u of taken) u.resolve();
    last = { offset, set };
    try {
      await afterCommit?.(summary);
    } catch (error) {
      logger?.error({ groupId, topic, partition, err: errorMessage(error) }, "afterCommit failed");
    }
  };

  /**
   * Settles a transaction in doubt: a fresh producer (same transactional.id) waits for it to end,
   * then the committed metadata carries its unique tag or not.
   */
  const settleDoubt = async (): Promise<void> => {
    const d = doubt;
    if (d === undefined) return;
    if (producer === undefined) await open();
    const now = await fetchCommitted(topic, partition);
    doubt = undefined;
    if (now.metadata === d.metadata) {
      logger?.warn({ groupId, topic, partition }, "a transaction reported as failed had committed");
      await committed(d.records, d.taken, d.summary, BigInt(d.summary.committedOffset), d.set);
    } else untied.unshift(...d.taken);
  };

  const attempt = async (): Promise<void> => {
    // Before ready() nothing is known of the committed offset: committing one could move it back.
    if (fenced || closed || !isReady) return;
    await settleDoubt();
    if (producer === undefined) await open();
    const p = producer;
    if (p === undefined) return;
    // Undefined: nothing was ever committed or fetched here (outputs of no record only).
    const watermark = tracker.watermark() ?? base;
    if (watermark === undefined && untied.length === 0) return;
    const offset = watermark ?? -1n;
    const finished = [...tracker.finishedAbove(), ...[...earlier].filter((o) => o > offset)];
    const { included, metadata: set } = fitCompleted(
      offset,
      finished,
      maxMetadataBytes - TAG_BYTES,
    );
    const covered = new Set(included);
    const records = [...held.keys()]
      .filter((o) => o < offset || covered.has(o))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (records.length === 0 && untied.length === 0 && last?.offset === offset && last.set === set)
      return;
    const taken = untied.splice(0);
    const outputs = [
      ...records.flatMap((o) => held.get(o) ?? []),
      ...taken.flatMap((u) => u.outputs),
    ];
    counter++;
    const metadata = `${set}~${owner}${counter.toString(36)}`;
    const summary: CommittedOutputs = {
      topic,
      partition,
      offsets: records.map(String),
      committedOffset: offset.toString(),
      outputs: outputs.length,
    };
    const tx = await p.transaction();
    try {
      for (const topicMessages of chunks(outputs)) await tx.sendBatch({ topicMessages, acks: -1 });
      if (watermark !== undefined)
        await tx.sendOffsets({
          consumerGroupId: groupId,
          topics: [{ topic, partitions: [{ partition, offset: offset.toString(), metadata }] }],
        });
      await beforeCommit?.(summary);
    } catch (error) {
      // Not committed: nothing of it is visible to read-committed readers.
      if (!isFenced(error)) await tx.abort().catch(() => undefined);
      untied.unshift(...taken);
      throw error;
    }
    try {
      await tx.commit();
    } catch (error) {
      if (isFenced(error)) throw error;
      doubt = { metadata, records, taken, summary, set };
      throw error;
    }
    await committed(records, taken, summary, offset, set);
  };

  const commit = (): Promise<void> => {
    // One transaction at a time per partition; a tick while one runs adds nothing.
    if (running !== undefined) return running;
    running = (async () => {
      try {
        await attempt();
        onResult(undefined);
      } catch (error) {
        if (isFenced(error)) {
          fenced = true;
          retire();
          dropAll(notOwned(topic, partition, "was fenced by a newer owner"));
          logger?.warn(
            { groupId, topic, partition, transactionalId },
            "transactional producer fenced (a newer owner, or the broker aborted a transaction past its timeout): its uncommitted work here is dropped",
          );
          onFenced();
          return;
        }
        retire();
        onResult(error);
        logger?.warn(
          { groupId, topic, partition, err: errorMessage(error) },
          "transaction failed; the same outputs go in the next one",
        );
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    topic,
    partition,
    ready() {
      opening ??= (async () => {
        await open();
        const found = await fetchCommitted(topic, partition);
        base = found.offset;
        if (base !== undefined) {
          earlier = new Set(decodeCompleted(base, found.metadata?.split("~")[0]));
          // What this owner would write for it: no transaction until something changes.
          last = {
            offset: base,
            set: fitCompleted(base, [...earlier], maxMetadataBytes - TAG_BYTES).metadata,
          };
        }
        isReady = true;
      })().catch((error: unknown) => {
        opening = undefined;
        retire();
        throw error;
      });
      return opening;
    },
    finishedEarlier(offset) {
      return base !== undefined && (offset < base || earlier.has(offset));
    },
    finish(offset, outputs) {
      if (fenced || closed) return;
      held.set(offset, outputs);
    },
    attach(outputs) {
      if (fenced || closed) return Promise.reject(notOwned(topic, partition, "is not owned here"));
      return new Promise<void>((resolve, reject) => {
        untied.push({ outputs, resolve, reject });
      });
    },
    commit,
    async close() {
      closed = true;
      await running;
      dropAll(notOwned(topic, partition, "was given up"));
      const p = producer;
      producer = undefined;
      await p?.disconnect().catch(() => undefined);
    },
    get fenced() {
      return fenced;
    },
  };
}
