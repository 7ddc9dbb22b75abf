import type { Batch, IHeaders, KafkaMessage } from "kafkajs";
import type { KafkaClient, KafkaLogger } from "./connection.js";
import type { OffsetTracker } from "./offset-tracker.js";
import type { RetryPolicy } from "./backoff.js";

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

/** A record to produce: raw bytes for a topic (EventProducer.output builds one from an event). */
export interface OutputRecord {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
}

/** What a handler gets besides its record. */
export interface RecordContext {
  /**
   * Hands output records to the runner (transactional mode only; elsewhere it throws): they are
   * committed in one Kafka transaction with the record's partition offset once the handler has
   * resolved, so a read-committed consumer sees them exactly once, across crashes. A failed
   * attempt's outputs are dropped; the next attempt publishes its own.
   */
  publish(...outputs: readonly OutputRecord[]): void;
}

/** The records of one partition whose outputs one transaction committed. */
export interface CommittedOutputs {
  readonly topic: string;
  readonly partition: number;
  /** Offsets of the records whose outputs (if any) are now committed, ascending. */
  readonly offsets: readonly string[];
  /** The partition's committed offset after the transaction (Kafka's "next to read"). */
  readonly committedOffset: string;
  /** Outputs committed with the transaction, those of no record (`publishWith`) included. */
  readonly outputs: number;
}

/** Exactly one output per input for read-committed consumers (see ConsumerRunnerOptions.transactional). */
export interface TransactionalMode {
  /**
   * How long a transaction may stay open before the broker aborts it (transaction.timeout.ms,
   * default 10 s): how long a crashed owner with no successor can hold back read-committed
   * readers of the output partitions. Longer than a transaction ever takes.
   */
  readonly transactionTimeoutMs?: number;
  /** The broker's offset.metadata.max.bytes (default 4096): room for the finished-record set. */
  readonly maxMetadataBytes?: number;
  /** After each committed transaction: which records' outputs it made visible. */
  readonly afterCommit?: (committed: CommittedOutputs) => void | Promise<void>;
  /** Test hook: after the outputs and offsets are sent, before the transaction commits. */
  readonly beforeCommit?: (pending: CommittedOutputs) => Promise<void>;
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
  /**
   * Must be idempotent: a rebalance or crash can deliver a record again. `signal` aborts on
   * shutdown. In transactional mode it hands its output records to `context.publish`.
   */
  readonly handle: (
    record: ConsumedRecord<T>,
    signal: AbortSignal,
    context: RecordContext,
  ) => Promise<void>;
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
  /**
   * How often offsets are committed (in transactional mode: how often each partition's
   * transaction is). Default 250 ms; `PROMPT_COMMIT_INTERVAL_MS` for a consumer whose committed
   * offset is how operators see a fact take effect.
   */
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
  /**
   * Bytes at most in one fetch response (kafkajs maxBytes; never below maxBytesPerPartition).
   * Default: 10 MB or twice maxBytesPerPartition. The consumer holds a response's records
   * decoded while it works through them, so a consumer of small records that takes few at a
   * time keeps less memory with a smaller bound.
   */
  readonly maxBytes?: number;
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
  /**
   * Transactional mode (opt-in, ADR 0007): handlers hand their outputs to `context.publish`,
   * and each owned input partition commits its finished records' outputs together with its
   * offset in one Kafka transaction, through a transactional producer of its own
   * (transactional.id `<groupId>.<topic>.<partition>`, so the partition's next owner fences a
   * dead or stalled one at once). The offset commit's metadata lists the records finished above
   * the committed offset, so the next owner skips them. Dead letters are outputs too.
   */
  readonly transactional?: TransactionalMode;
}

/** Work for a record taken onto the runner's side track (see `setAside`). */
export type SideTask<T> = (
  record: ConsumedRecord<T>,
  signal: AbortSignal,
  context: RecordContext,
) => Promise<void>;

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
  /** Transactional mode: records an earlier owner had finished, skipped here. */
  skipped: number;
  /** Transactional mode: partitions dropped because their producer was fenced. */
  fenced: number;
  /** Transactional mode: fenced partitions taken up again, still assigned after a session with no rebalance. */
  reclaimed: number;
}

/** A runner's counters at its start. */
export function emptyRunnerStats(): RunnerStats {
  return {
    processed: 0,
    retried: 0,
    deadLettered: 0,
    handedBack: 0,
    inFlight: 0,
    pauses: 0,
    partitionPauses: 0,
    reclaimed: 0,
    commits: 0,
    skipped: 0,
    fenced: 0,
  };
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
  /**
   * Transactional mode: outputs tied to no record (a timer's), committed with the next
   * transaction of an input partition this member owns; resolves once committed. Rejects
   * (retry "bounded") when the partition is not owned here or is lost before the commit.
   */
  publishWith(topic: string, partition: number, outputs: readonly OutputRecord[]): Promise<void>;
  start(): Promise<void>;
  /** Stops fetching, lets running handlers finish, hands back queued records, commits, leaves the group. */
  stop(): Promise<void>;
}

/** The runner's view of one assigned partition. */
export interface PartitionState {
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

export const textHeaders = (headers: IHeaders): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
};

/**
 * The commit interval of a low-volume consumer whose committed offset says when a fact took
 * effect: the gates' consumers (`sender-gates`, `router-gates`), where the group's lag on the
 * consent topic is how long an opt-out waits to be enforced (issue 23's measure, the
 * consumer-lag runbook). A commit with nothing new is not sent, so an idle gate costs nothing.
 */
export const PROMPT_COMMIT_INTERVAL_MS = 50;
