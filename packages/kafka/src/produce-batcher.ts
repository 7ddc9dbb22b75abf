import type { Message, TopicMessages } from "kafkajs";
import { sleep } from "@parley/errors";
import type { ParleyKafkaError } from "./errors.js";
import { toProduceError } from "./produce-errors.js";
import { recordBytes } from "./record-size.js";

/**
 * Sends one produce request holding every topic's messages, in the order given. It must never
 * reuse a client whose sequence state may be wrong: after a failure the next call goes through a
 * fresh producer (createRenewingProducer does so).
 */
export type SendBatch = (topicMessages: TopicMessages[]) => Promise<void>;

export interface ProduceBatchLimits {
  /** Most records in one produce request (default 500). */
  readonly maxBatchRecords?: number;
  /**
   * Most bytes (records with their record-batch fields) in one produce request (default 512 KiB),
   * below every topic's `max.message.bytes` (1 MiB at least), which bounds one partition's
   * record batch. A call larger than this on its own is split over requests in order.
   */
  readonly maxBatchBytes?: number;
}

export interface ProduceRecovery {
  /** Tries of a failed request after the first, each through a fresh producer (default 3). */
  readonly attempts?: number;
  /** Wait before the first of them, doubling up to `maxDelayMs` (default 100). */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Told when a request is acknowledged and when a failure outlasted a fresh producer. */
export interface ProduceObserver {
  readonly acknowledged: () => void;
  /** A fresh producer failed too (`final`: the recovery gave up and the calls are rejected). */
  readonly failing: (error: ParleyKafkaError, final: boolean) => void;
}

export interface ProduceBatcher {
  /**
   * Appends `messages` to `topic` in the next produce request; resolves once it is acknowledged,
   * rejects with a ParleyKafkaError that carries the retry decision. `maxRequestBytes` (the
   * topic's limit) lowers the request bound for requests holding this call.
   */
  append(topic: string, messages: readonly Message[], maxRequestBytes?: number): Promise<void>;
  /** Calls waiting for a request or inside the one in flight. */
  readonly pending: number;
  /** No more recovery waits: a failing request is rejected at once from now on. */
  close(): void;
}

interface Call {
  readonly topic: string;
  readonly messages: readonly Message[];
  readonly bytes: number;
  readonly limit: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for one idempotent producer. The producer keeps one request in flight (so a retry
 * cannot reorder records), and kafkajs gives every `send` a request of its own: concurrent callers
 * would queue behind each other, one round trip each. Here the calls that arrive while a request
 * is out wait together and go in the next request, in arrival order, so per-partition order is
 * the order of the calls. A call goes in one request unless it is over the byte bound alone.
 *
 * A failed request is never followed by other records on the same producer: `sendBatch` renews
 * its producer (issue 32: kafkajs's sequence numbers go out of step with the broker after a failed
 * produce, and later records were refused or acknowledged without being appended). Then:
 * - an outage (broker, leader or replicas unavailable, a timeout) is tried again, whole, after a
 *   back-off, through the fresh producer, up to `recovery.attempts` times; past that every call
 *   is rejected with the outage (the caller waits it out);
 * - a refusal of the request itself (`never`: a record the broker will not take) is resent call
 *   by call, so the call the broker refuses fails alone.
 * Records of the failed request that the broker had appended are then appended again: consumers
 * deduplicate by event id, as for any producer retry. Every request waits for the one before it
 * to settle, recovery included, so per-partition order holds.
 */
export function createProduceBatcher(
  sendBatch: SendBatch,
  { maxBatchRecords = 500, maxBatchBytes = 512 * 1024 }: ProduceBatchLimits = {},
  { recovery = {}, observer }: { recovery?: ProduceRecovery; observer?: ProduceObserver } = {},
): ProduceBatcher {
  const { attempts = 3, initialDelayMs = 100, maxDelayMs = 2_000 } = recovery;
  for (const [name, value] of Object.entries({ maxBatchRecords, maxBatchBytes })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `createProduceBatcher: ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  if (!Number.isInteger(attempts) || attempts < 0)
    throw new RangeError(
      `createProduceBatcher: recovery.attempts must be a non-negative integer, got ${attempts}`,
    );
  const waiting: Call[] = [];
  const closing = new AbortController();
  let inFlight = 0;
  let sending = false;
  let scheduled = false;

  const take = (): Call[] => {
    const batch: Call[] = [];
    let records = 0;
    let bytes = 0;
    let limit = maxBatchBytes;
    for (;;) {
      const next = waiting[0];
      if (next === undefined) break;
      const bound = Math.min(limit, next.limit);
      const fits = records + next.messages.length <= maxBatchRecords && bytes + next.bytes <= bound;
      // The first call always goes, even when it is over the limits on its own.
      if (batch.length > 0 && !fits) break;
      waiting.shift();
      batch.push(next);
      records += next.messages.length;
      bytes += next.bytes;
      limit = bound;
    }
    return batch;
  };

  const request = (calls: readonly Call[]): Promise<void> => {
    const byTopic = new Map<string, Message[]>();
    for (const call of calls) {
      const list = byTopic.get(call.topic);
      if (list === undefined) byTopic.set(call.topic, [...call.messages]);
      else list.push(...call.messages);
    }
    return sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
  };

  const contextOf = (calls: readonly Call[]) => ({
    topics: [...new Set(calls.map((c) => c.topic))],
    records: calls.reduce((n, c) => n + c.messages.length, 0),
  });

  /** Sends `calls` in one request, through fresh producers while the failure is not theirs. */
  const attempt = async (calls: readonly Call[]): Promise<ParleyKafkaError | undefined> => {
    for (let tried = 1; ; tried++) {
      try {
        await request(calls);
        observer?.acknowledged();
        return undefined;
      } catch (error) {
        const failure = toProduceError(error, contextOf(calls));
        if (failure.retry === "never") return failure;
        const final = tried > attempts || closing.signal.aborted;
        // The first failure may be the old producer's state; a fresh one failing is news.
        if (tried > 1 || final) observer?.failing(failure, final);
        if (final) return failure;
        const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** (tried - 1));
        if (!(await sleep(delay, closing.signal))) return failure;
      }
    }
  };

  const run = async (batch: readonly Call[]): Promise<void> => {
    const failure = await attempt(batch);
    if (failure === undefined) {
      for (const call of batch) call.resolve();
      return;
    }
    if (failure.retry !== "never" || batch.length === 1) {
      for (const call of batch) call.reject(failure);
      return;
    }
    for (const call of batch) {
      const own = await attempt([call]);
      if (own === undefined) call.resolve();
      else call.reject(own);
    }
  };

  const pump = (): void => {
    scheduled = false;
    if (sending || waiting.length === 0) return;
    sending = true;
    const batch = take();
    void run(batch).finally(() => {
      inFlight -= batch.length;
      sending = false;
      schedule();
    });
  };

  const schedule = (): void => {
    if (scheduled || sending || waiting.length === 0) return;
    scheduled = true;
    // The calls made in the same turn of the event loop join the first request.
    setImmediate(pump);
  };

  const enqueue = (topic: string, messages: readonly Message[], bytes: number, limit: number) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ topic, messages, bytes, limit, resolve, reject });
      inFlight++;
      schedule();
    });

  return {
    append(topic, messages, maxRequestBytes = maxBatchBytes) {
      if (messages.length === 0) return Promise.resolve();
      const limit = Math.min(maxBatchBytes, maxRequestBytes);
      const sizes = messages.map(recordBytes);
      const total = sizes.reduce((a, b) => a + b, 0);
      if (total <= limit || messages.length === 1) return enqueue(topic, messages, total, limit);
      // Over the bound: consecutive pieces, queued together so nothing comes between them.
      const pieces: Promise<void>[] = [];
      let start = 0;
      let bytes = 0;
      sizes.forEach((size, i) => {
        if (i > start && bytes + size > limit) {
          pieces.push(enqueue(topic, messages.slice(start, i), bytes, limit));
          start = i;
          bytes = 0;
        }
        bytes += size;
      });
      pieces.push(enqueue(topic, messages.slice(start), bytes, limit));
      return Promise.all(pieces).then(() => undefined);
    },
    get pending() {
      return inFlight;
    },
    close() {
      closing.abort();
    },
  };
}
